"""Keras custom training steps, as a catalogue of runnable variants (no Streamlit here).

Importing this package selects Keras's PyTorch backend (or fails clearly if another
one is already active), then registers the five variants of the Keras guide
"Customizing what happens in fit() with PyTorch", in the guide's order.

    from trainers import get_variant
    spec = get_variant("gan")
    exp = spec.build(spec.validate({"epochs": 1}))
    exp.model.fit(**exp.fit_kwargs)
"""

from trainers._backend import ensure_torch_backend

ensure_torch_backend()

from trainers.registry import VARIANTS, Experiment, VariantSpec, get_variant, register  # noqa: E402
from trainers.variants import compute_loss, gan, manual, test_step, weighted  # noqa: E402

for _module in (compute_loss, manual, weighted, test_step, gan):  # the guide's order
    register(_module.SPEC)

__all__ = ["VARIANTS", "Experiment", "VariantSpec", "get_variant"]
