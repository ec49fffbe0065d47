"""The lab's callbacks for one ``fit()`` of a run: small Keras callbacks sharing a ``RunCursor``.

``stream_callbacks`` returns them in the order Keras must call them after each batch:

1. ``MetricStream`` (metric_stream.py): counts the step, records each batch's metric values
   (or, on a GPU, those of the batches since the last read) and stops a run whose loss is
   no longer finite; at an epoch's end, the epoch's figures.
2. ``GridStream`` (samples.py): draws the sample grid at step 0 (noise, so a person sees
   something at once), when its ``Cadence`` says so, at each epoch's end and at the end.
3. ``QualityStream`` (samples.py): scores the samples within the quality budget; a final score.
4. ``ControlGate`` (control_gate.py): between two batches, applies steering and single
   steps, honours the demo's limits, Stop and Pause.

Each callback does one thing and times itself (what the dashboard costs training, pauses
excluded). They never touch Streamlit.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np

from runtime.record.live import LiveRun
from runtime.training.cadence import GRIDS, QUALITY, Cadence
from runtime.training.control_gate import ControlGate
from runtime.training.cursor import RunCursor
from runtime.training.limits import Limits
from runtime.training.metric_stream import MetricStream
from runtime.training.samples import GridStream, QualityStream


def stream_callbacks(
    run: LiveRun,
    sample_images: Callable[[], np.ndarray] | None = None,
    grid_columns: int | None = None,
    cadence: Cadence = GRIDS,
    epoch_report: Callable[[], dict[str, float]] | None = None,
    quality_report: Callable[..., dict[str, float] | None] | None = None,
    quality_cadence: Cadence = QUALITY,
    limits: Limits = Limits(),
    watch: Callable[[str], bool] = lambda name: "loss" in name,
    read_every: float = 0.0,
) -> list[keras.callbacks.Callback]:
    """The callbacks that stream one ``fit()`` into ``run`` and obey its controls, in calling order.

    ``watch``: which metrics stop the run as diverged when not finite. ``read_every``: seconds
    between reads of metric values (0: every batch; on a GPU a read waits for the step to finish,
    so it reads at the page's pace instead: runtime/training/lazy_logs.py).
    """
    cursor = RunCursor(run)
    metrics = MetricStream(cursor, epoch_report, watch, read_every)
    grids = GridStream(cursor, sample_images, grid_columns, cadence)
    scores = QualityStream(cursor, quality_report, quality_cadence)
    return [metrics, grids, scores, ControlGate(cursor, limits, metrics, grids, scores)]
