"""No device sync per training step: a run's metric values are read at the page's pace on a GPU.

Keras converts every batch's logs to Python floats before it calls a callback's
``on_train_batch_end`` (``CallbackList`` calls ``pythonify_logs``). On a GPU each such
conversion copies a scalar back to the host and so waits for the step to finish: the
host can no longer queue step N+1 while the GPU runs step N. The lab's callback only
needs values at the pace a person sees them (the page redraws about every 0.2 s).

``fit_callbacks`` therefore hands ``fit`` a ``CallbackList`` that passes the batch logs
on as they are (tensors), and the streaming callback reads values every
``READ_EVERY_CUDA`` seconds; the mean over the batches between two reads comes from
the metrics' running totals and counts (``StepValues``). On the CPU there is no device
to wait for: values are read after every batch, as before, with Keras's own list.
"""

from __future__ import annotations

import math

import keras
import torch
from keras.callbacks import CallbackList

READ_EVERY_CUDA = 0.2  # seconds between metric reads on a GPU: about the page's refresh


def read_interval() -> float:
    """Seconds between reads of metric values: 0 (every batch) on the CPU, ``READ_EVERY_CUDA`` on a GPU."""
    return READ_EVERY_CUDA if torch.cuda.is_available() else 0.0


class LazyLogsCallbackList(CallbackList):
    """Keras's ``CallbackList``, except that batch-end logs of training are not converted to floats."""

    def on_train_batch_end(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_train_batch_end(batch, logs=logs or {})


def steps_per_epoch(fit_kwargs: dict) -> int | None:
    """Batches per epoch of ``fit(**fit_kwargs)``, where it can be told without Keras's iterator."""
    if fit_kwargs.get("validation_split"):
        return None  # Keras splits the data first: leave the count to it
    if fit_kwargs.get("steps_per_epoch"):
        return int(fit_kwargs["steps_per_epoch"])
    x = fit_kwargs.get("x")
    if isinstance(x, torch.utils.data.DataLoader):
        try:
            return len(x)
        except TypeError:  # an iterable dataset has no length
            return None
    if hasattr(x, "shape") and len(getattr(x, "shape", ())) > 0:
        return math.ceil(x.shape[0] / (fit_kwargs.get("batch_size") or 32))
    return None


def fit_callbacks(model: keras.Model, fit_kwargs: dict, callbacks: list, lazy: bool):
    """What to pass as ``fit(callbacks=...)``: the plain list, or (``lazy``) a list that does not convert logs.

    Falls back to the plain list where the number of steps cannot be told beforehand
    (Keras would otherwise give the callbacks no ``steps`` parameter).
    """
    steps = steps_per_epoch(fit_kwargs) if lazy else None
    if steps is None:
        return callbacks
    return LazyLogsCallbackList(
        callbacks,
        add_history=True,
        add_progbar=False,
        model=model,
        verbose=0,
        epochs=fit_kwargs.get("epochs", 1),
        steps=steps,
    )
