"""A sixth variant, as a person adding one would write it: one module defining ``SPEC``.

An L1 regression step: the guide's Dense(1) on its regression data, trained on the
mean absolute error with a hand-written ``train_step``. Used by test_extension_point.py,
which registers it and shows that the lab offers it with no other change.
"""

import keras
import torch

from trainers.registry import Experiment, VariantSpec
from trainers.variants import _common
from trainers.views import EpochTable

KEY = "throwaway_l1"


class L1Model(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        loss = keras.ops.mean(keras.ops.abs(self(x, training=True) - y))
        loss.backward()
        weights = self.trainable_weights
        with torch.no_grad():
            self.optimizer.apply([v.value.grad for v in weights], weights)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]


def build(config: dict) -> Experiment:
    return _common.regression_experiment(L1Model, config)


SPEC = VariantSpec(
    key=KEY,
    title="L1 step (throwaway)",
    summary="A step the lab did not know about: mean absolute error, by hand.",
    params=(_common.epochs(2), *_common.REGRESSION_PARAMS),
    metrics=("loss",),
    build=build,
    code=(L1Model.train_step,),
    tiny={"target": "linear", "samples": 128, "epochs": 2, "learning_rate": 0.05},
    tiny_falls="loss",
    section="Beyond the guide",
    key_settings=("target", "learning_rate"),
    watch_for="Watch the L1 loss fall in straight-ish segments.",
    run_views=(EpochTable(title="Per epoch (throwaway view)", columns=("loss",)),),
)
