"""Variant 2 — "Going lower-level": no loss in ``compile()``, the step's own trackers.

Only the optimizer goes through ``compile()``. The loss function and the two metric
trackers live on the model; listing them in the ``metrics`` property is what makes
``fit()`` reset them at the start of every epoch.
"""

from __future__ import annotations

import keras
import torch

from trainers.registry import Experiment
from trainers.variants import _common


class ManualModel(keras.Model):
    """The guide's lower-level ``CustomModel``: hand-made MSE and Mean/MAE trackers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data

        # Clear the gradients left by the previous step.
        self.zero_grad()

        # Forward pass and our own loss: nothing was passed to compile() for it.
        y_pred = self(x, training=True)
        loss = self.loss_fn(y, y_pred)

        # Backward pass, then one optimizer update (no copy of the weight list needed).
        loss.backward()
        trainable_weights = self.trainable_weights
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)

        # Our own metrics.
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        # Listed here, these trackers get reset_state() at the start of each epoch
        # and of each evaluate(); otherwise result() would average since training began.
        return [self.loss_tracker, self.mae_metric]


def build(config: dict) -> Experiment:
    return _common.regression_experiment(ManualModel, config)  # compile(): optimizer only, no loss or metrics


EXPECT = (  # one run with the defaults, AMD EPYC, 2 cores, 2026-12-02
    "The defaults (the guide's data: 1,000 samples, 5 epochs, 160 steps at batch 32) train in under a second "
    "on a 2-core CPU: the loss goes from 0.35 at the first step to an epoch mean of 0.18 in the fifth (mae "
    "0.48 to 0.34), towards the random targets' floor of 1/12. The curves come from the step's own "
    "`Mean` trackers, reset at each epoch's start by `metrics` returning them."
)


SPEC = _common.regression_spec(
    key="manual",
    title="Manual step with its own trackers",
    summary="No loss in compile(): the step computes MSE and keeps Mean/MAE trackers itself.",
    guide_section="Going lower-level",
    params=(_common.epochs(5), *_common.REGRESSION_PARAMS),
    build=build,
    code=(ManualModel.train_step, ManualModel.metrics.fget),
    expect=EXPECT,
    icon=":material/looks_two:",
)
