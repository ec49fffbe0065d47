"""Make sure Keras runs on the PyTorch backend before anything imports it.

Keras picks its backend once, at its first import, from ``KERAS_BACKEND``. The
trainers are written against torch tensors (``.grad``, ``torch.no_grad``), so a
different backend would fail deep inside a training step; we fail here instead,
with a message that says what to do.
"""

import os
import sys

REQUIRED = "torch"


def ensure_torch_backend() -> None:
    """Set ``KERAS_BACKEND=torch`` if unset; raise if another backend is chosen."""
    keras = sys.modules.get("keras")
    if keras is not None:
        active = keras.backend.backend()
        if active != REQUIRED:
            raise RuntimeError(
                f"keras was already imported with the {active!r} backend, but the "
                "trainers need 'torch'. Set KERAS_BACKEND=torch before the first "
                "`import keras` (or import trainers first)."
            )
        return
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen and chosen != REQUIRED:
        raise RuntimeError(
            f"KERAS_BACKEND={chosen!r}, but the trainers need 'torch'. Unset it or set KERAS_BACKEND=torch."
        )
    os.environ["KERAS_BACKEND"] = REQUIRED
