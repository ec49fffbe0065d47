"""Two extra variants for the failure paths: real Keras training that fails or diverges.

``boom`` raises inside ``train_step`` at its third step; ``nan_data`` trains the guide's
compute_loss step on data with a NaN row, so its loss becomes NaN at step 2.
"""

import numpy as np

from trainers.config import ParamSpec
from trainers.registry import VARIANTS, Experiment, VariantSpec
from trainers.variants._common import dense_regressor
from trainers.variants.compute_loss import ComputeLossModel

COMMON = (
    ParamSpec("epochs", "int", 1, min=1, max=5, help="epochs"),
    ParamSpec("batch_size", "int", 16, min=1, max=64, help="batch"),
    ParamSpec("seed", "int", 0, min=0, max=10, help="seed"),
)


class BoomModel(ComputeLossModel):
    def train_step(self, data):
        self.steps_taken = getattr(self, "steps_taken", 0) + 1
        if self.steps_taken == 3:
            raise RuntimeError("boom at step 3")
        return super().train_step(data)


def _experiment(model_class, x, y, config):
    model = dense_regressor(model_class)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return Experiment(
        model=model,
        batch_size=config["batch_size"],
        fit_kwargs=dict(x=x, y=y, epochs=config["epochs"], batch_size=config["batch_size"], shuffle=False),
    )


def build_boom(config):
    rng = np.random.default_rng(0)
    return _experiment(
        BoomModel, rng.random((160, 32), dtype=np.float32), rng.random((160, 1), dtype=np.float32), config
    )


def build_nan(config):
    rng = np.random.default_rng(0)
    x = rng.random((160, 32), dtype=np.float32)
    x[20, 5] = np.nan  # in the second batch of 16
    return _experiment(ComputeLossModel, x, rng.random((160, 1), dtype=np.float32), config)


def _spec(key: str, title: str, summary: str, build, model_class) -> VariantSpec:
    return VariantSpec(
        key=key,
        title=title,
        summary=summary,
        params=COMMON,
        metrics=("loss", "mae"),
        build=build,
        code=(model_class.train_step,),
        tiny={},
    )


SPECS = [
    _spec("boom", "Boom", "fails at step 3", build_boom, BoomModel),
    _spec("nan_data", "NaN data", "diverges at step 2", build_nan, ComputeLossModel),
]


def install():
    for spec in SPECS:
        VARIANTS[spec.key] = spec


def uninstall():
    for spec in SPECS:
        VARIANTS.pop(spec.key, None)


# ---- a GAN whose optimizers note their learning rate at every update (steering tests) ----
PROBE = {"model": None, "d_rates": [], "g_rates": []}


def build_gan_probe(config):
    from trainers import get_variant

    experiment = get_variant("gan").build(config)
    gan = experiment.model
    PROBE.update(model=gan, d_rates=[], g_rates=[])
    for optimizer, rates in ((gan.d_optimizer, PROBE["d_rates"]), (gan.g_optimizer, PROBE["g_rates"])):
        original = optimizer.apply

        def apply(grads, variables=None, _original=original, _optimizer=optimizer, _rates=rates):
            _rates.append(float(_optimizer.learning_rate))
            return _original(grads, variables)

        optimizer.apply = apply
    return experiment


def _gan_probe_spec():
    from dataclasses import replace

    from trainers import get_variant

    return replace(get_variant("gan"), key="gan_probe", title="GAN probe", build=build_gan_probe)


def install_gan_probe():
    VARIANTS["gan_probe"] = _gan_probe_spec()


def uninstall_gan_probe():
    VARIANTS.pop("gan_probe", None)
