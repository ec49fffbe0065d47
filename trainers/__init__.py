"""Keras custom training steps, as a catalogue of runnable variants (no Streamlit here).

Importing this package selects Keras's PyTorch backend (or fails clearly if another
one is already active), then registers the variants listed in ``CATALOGUE``: the
five of the Keras guide "Customizing what happens in fit() with PyTorch", in the
guide's order. A new variant is a module under ``trainers/variants/`` defining
``SPEC`` and one line here.

    from trainers import get_variant
    spec = get_variant("gan")
    exp = spec.build(spec.validate({"epochs": 1}))
    exp.model.fit(**exp.fit_kwargs)
"""

import importlib

from trainers._backend import ensure_torch_backend

ensure_torch_backend()

from trainers.registry import VARIANTS, Experiment, VariantSpec, get_variant, register  # noqa: E402

CATALOGUE = (  # modules under trainers/variants/, in the order the lab lists them
    "compute_loss",
    "manual",
    "weighted",
    "test_step",
    "gan",
    "dcgan",
    "wgan_gp",
    "cgan",
    "own_step",
)

for _name in CATALOGUE:
    register(importlib.import_module(f"trainers.variants.{_name}").SPEC)

__all__ = ["VARIANTS", "Experiment", "VariantSpec", "get_variant"]
