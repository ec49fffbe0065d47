"""``LabCallback``: stream any ``model.fit()`` into the lab, from a script or a notebook.

    from runtime.lab_callback import LabCallback
    model.fit(x, y, epochs=5, callbacks=[LabCallback(name="wider layer")])

The fit() runs in your process; the callback writes its per-batch metrics (and, with
``sample_images``, a grid of images now and then) into the lab's run store, the same
SQLite file the lab reads (``LAB_HOME``, or ``home=``). The runs page shows the run
live beside the lab's own, with the same charts, compare and exports; its Stop and
Pause reach your fit() between two batches (through the store). If your process
dies, its heartbeat stops and the lab marks the run interrupted after a timeout.

One store is meant for the processes of one host (SQLite's rule for its WAL mode).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from runtime.devices import device_info, library_versions
from runtime.heartbeat import Heartbeat
from runtime.live import LiveRun
from runtime.store import RunStore
from runtime.stream import StreamCallback

VARIANT = "external"  # what the store calls a run streamed from outside the lab
DEFAULT_HOME = Path(__file__).resolve().parents[1] / "runs"


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
        self._stream: StreamCallback | None = None
        self._heartbeat: Heartbeat | None = None

    # ---- set-up, on the first call of the run ------------------------------------------
    def on_train_begin(self, logs=None):
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
        self._heartbeat = Heartbeat(store.path, self.run_id).__enter__()
        images = (lambda: self.images(self.model)) if self.images else None
        self._stream = StreamCallback(run, sample_images=images)
        self._stream.set_model(self.model)
        self._stream.set_params(self.params)
        self._stream.on_train_begin(logs)

    # ---- everything else goes to the lab's own streaming callback --------------------
    def on_epoch_begin(self, epoch, logs=None):
        self._stream.on_epoch_begin(epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._stream.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._stream.on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._stream.on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        self._stream.on_train_end(logs)
        run = self._run
        if run.diverged_at is not None:
            status, error = "diverged", f"{run.diverged_at[1]} became non-finite at step {run.diverged_at[0]}."
        else:
            status, error = ("stopped" if run.stop_event.is_set() else "completed"), run.limit_reason
        run.writer.close()
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
