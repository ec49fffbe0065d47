"""``LabCallback``: stream any ``model.fit()`` into the lab, from a script or a notebook.

    from runtime.training.lab_callback import LabCallback
    model.fit(x, y, epochs=5, callbacks=[LabCallback(name="wider layer")])

The fit() runs in your process; the callback writes its per-batch metrics (and, with
``sample_images``, a grid of images now and then) into the lab's run store, the same
SQLite file the lab reads (``LAB_HOME``, or ``home=``). The runs page shows the run
live beside the lab's own, with the same charts, compare and exports; its Stop and
Pause reach your fit() between two batches (through the store).

Keras calls ``on_train_end`` only when ``fit()`` returns; if it raises, the callback never
hears of it. In a notebook, prefer the context manager, which ends the run as failed
with the exception's words::

    with lab_run(name="wider layer") as callback:
        model.fit(x, y, epochs=5, callbacks=[callback])

Without it, the run's heartbeat follows the callback's activity: it stops
``ACTIVITY_WINDOW_S`` after the last batch, so a fit() that raised (or a process that
died) is marked interrupted by the lab after its heartbeat timeout, not kept "running".

One store is meant for the processes of one host (SQLite's rule for its WAL mode).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import keras
import numpy as np

from runtime.record.live import LiveRun
from runtime.store import DEFAULT_HOME
from runtime.store.run_store import RunStore
from runtime.training.devices import device_info, library_versions
from runtime.training.heartbeat import Heartbeat
from runtime.training.stream import stream_callbacks

VARIANT = "external"  # what the store calls a run streamed from outside the lab
ACTIVITY_WINDOW_S = 120.0  # the heartbeat stops this long after the callback last heard from fit()


class LabCallback(keras.callbacks.Callback):
    """Record this fit() as a run of the lab; obey the lab's Stop and Pause."""

    def __init__(
        self,
        name: str | None = None,
        home: str | os.PathLike | None = None,
        sample_images: Callable[[keras.Model], np.ndarray] | None = None,
        notes: str = "",
    ):
        super().__init__()
        self.name, self.notes, self.images = name, notes, sample_images
        self.home = Path(home or os.environ.get("LAB_HOME") or DEFAULT_HOME).expanduser()
        self.run_id: str | None = None
        self._run: LiveRun | None = None
        self._stream: keras.callbacks.CallbackList | None = None
        self._heartbeat: Heartbeat | None = None
        self._last_activity = time.monotonic()
        self._ended = False

    def _active(self) -> bool:
        """Whether fit() was heard from lately (see ACTIVITY_WINDOW_S): the heartbeat beats only then."""
        return time.monotonic() - self._last_activity < ACTIVITY_WINDOW_S

    # ---- set-up, on the first call of the run ------------------------------------------
    def on_train_begin(self, logs=None):
        self._last_activity = time.monotonic()
        self._ended = False
        store = RunStore(self.home / "runs.sqlite")
        self.run_id = uuid.uuid4().hex[:12]
        config = {"model": type(self.model).__name__, **{k: v for k, v in self.params.items() if k != "verbose"}}
        name = self.name or f"fit() of {type(self.model).__name__}"
        now = time.time()
        store.create_run(
            self.run_id,
            VARIANT,
            config,
            status="running",
            started=now,
            heartbeat=now,
            name=name,
            notes=self.notes,
            device=device_info(),
            versions=library_versions(),
            epochs=self.params.get("epochs"),
            data_source="your script's fit()",
        )
        run = self._run = LiveRun(self.run_id, VARIANT, config, status="running", started=now, name=name)
        run.writer = store.writer(self.run_id)
        self._store = store
        self._heartbeat = Heartbeat(store.path, self.run_id, alive=self._active).__enter__()
        images = (lambda: self.images(self.model)) if self.images else None
        self._stream = keras.callbacks.CallbackList(stream_callbacks(run, sample_images=images), model=self.model)
        self._stream.set_params(self.params)
        self._stream.on_train_begin(logs)

    # ---- everything else goes to the lab's own callbacks (runtime/training/stream.py) --------
    def on_epoch_begin(self, epoch, logs=None):
        self._last_activity = time.monotonic()
        self._stream.on_epoch_begin(epoch, logs)

    def on_test_begin(self, logs=None):
        self._stream.on_test_begin(logs)  # the training batches not read yet are read first

    def on_train_batch_begin(self, batch, logs=None):
        self._last_activity = time.monotonic()
        self._stream.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._last_activity = time.monotonic()
        self._stream.on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._last_activity = time.monotonic()
        self._stream.on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        self._stream.on_train_end(logs)
        run = self._run
        if run.diverged_at is not None:
            status, error = "diverged", f"{run.diverged_at[1]} became non-finite at step {run.diverged_at[0]}."
        else:
            status, error = ("stopped" if run.stop_event.is_set() else "completed"), run.limit_reason
        self._end(status, error)

    # ---- the end, however fit() ended ---------------------------------------------------------
    def fail(self, exc: BaseException) -> None:
        """End the run as failed with ``exc``'s words (fit() raised; Keras tells no callback)."""
        if self._run is not None and not self._ended:
            self._end("failed", f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """End a run fit() left open (it never returned), as interrupted."""
        if self._run is not None and not self._ended:
            self._end(
                "interrupted", "fit() did not return (its process went on without it); what was recorded is kept."
            )

    def _end(self, status: str, error: str | None) -> None:
        self._ended = True
        run = self._run
        try:
            run.writer.close()
        finally:
            self._heartbeat.__exit__(None, None, None)
            self._store.update_run(
                self.run_id,
                status=status,
                ended=time.time(),
                steps_done=run.step,
                epoch=run.epoch,
                error=error,
                ms_per_step=run.mean_step_ms(),
            )


@contextlib.contextmanager
def lab_run(
    name: str | None = None,
    home: str | os.PathLike | None = None,
    sample_images: Callable[[keras.Model], np.ndarray] | None = None,
    notes: str = "",
) -> Iterator[LabCallback]:
    """A ``LabCallback`` whose run ends whatever fit() does: failed (with the exception) if it raises."""
    callback = LabCallback(name=name, home=home, sample_images=sample_images, notes=notes)
    try:
        yield callback
    except BaseException as exc:
        callback.fail(exc)
        raise
    finally:
        callback.close()
