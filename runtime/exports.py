"""Take a run away: metrics as CSV, config as JSON, grids as PNG and animated GIF.

Pure functions over the run store (no Streamlit), so a script can export too.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Iterator

from PIL import Image, ImageDraw

from runtime.snapshot import sample_evenly
from runtime.store import RunStore

MAX_GIF_FRAMES = 100


def metrics_csv_chunks(store: RunStore, run_id: str, rows_per_chunk: int = 5000) -> Iterator[bytes]:
    """The metrics CSV in chunks, read from the store a window of steps at a time: memory stays
    bounded however long the run. One row per step: step, epoch (1-based), seconds since the run
    started, then a column per metric (``epoch/...`` and ``final/...`` on the step they were recorded)."""
    names = store.metric_names(run_id)
    run = store.get_run(run_id)
    started = run.get("started") if run else None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["step", "epoch", "time_s", *(spreadsheet_safe(n) for n in names)])
    count = 0
    for step, epoch, t, values in store.metric_rows(run_id, names):
        elapsed = "" if t is None or started is None else f"{t - started:.3f}"
        writer.writerow([step, epoch + 1, elapsed, *(_cell(values.get(n)) for n in names)])
        count += 1
        if count % rows_per_chunk == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A text cell a spreadsheet shows as text: one that would start a formula (``=HYPERLINK(...)``,
    ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading apostrophe (OWASP's advice).
    Metric names come from visitors' code and scripts; the numbers are written as numbers."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value) -> str:
    return "" if value is None or not math.isfinite(value) else repr(float(value))


def metrics_csv(store: RunStore, run_id: str) -> bytes:
    """The whole metrics CSV as bytes (see ``metrics_csv_chunks``; for short runs and scripts)."""
    return b"".join(metrics_csv_chunks(store, run_id))


def config_json(store: RunStore, run_id: str) -> bytes:
    """The run's settings and provenance: variant, config, status, device, library versions."""
    run = store.get_run(run_id)
    if run is None:
        raise KeyError(run_id)
    keep = (
        "id",
        "variant",
        "config",
        "status",
        "device",
        "versions",
        "data_source",
        "created",
        "started",
        "ended",
        "steps_done",
        "total_steps",
        "epochs",
        "batch_size",
        "ms_per_step",
        "error",
    )
    return json.dumps({k: run.get(k) for k in keep}, indent=2, sort_keys=False).encode()


def _label(png: bytes, text: str) -> Image.Image:
    """A grid with a caption band on top, as a palette image for GIF."""
    grid = Image.open(io.BytesIO(png)).convert("L")
    band = max(14, grid.height // 20)
    frame = Image.new("L", (grid.width, grid.height + band), 255)
    frame.paste(grid, (0, band))
    draw = ImageDraw.Draw(frame)
    draw.text((4, 1), text, fill=0)
    return frame


def grid_gif(store: RunStore, run_id: str, max_frames: int = MAX_GIF_FRAMES, frame_ms: int = 120) -> bytes | None:
    """The fixed-noise grids as an animated GIF, at most ``max_frames`` evenly sampled (last one included)."""
    steps = sample_evenly(store.grid_steps(run_id), max_frames)
    if not steps:
        return None
    frames = []
    for step in steps:
        found = store.grid(run_id, step)
        frames.append(_label(found[1], f"step {step:,}"))
    durations = [frame_ms] * len(frames)
    durations[-1] = max(frame_ms, 1500)  # linger on the final digits
    buf = io.BytesIO()
    frames[0].save(
        buf, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0, optimize=True
    )
    return buf.getvalue()


def last_grid_png(store: RunStore, run_id: str) -> bytes | None:
    found = store.grid(run_id)
    return found[1] if found else None


def differing_settings(runs: list[dict]) -> dict[str, list]:
    """Settings (and the variant) whose values are not the same across ``runs``, one list per key."""
    keys: list[str] = ["variant"]
    for run in runs:
        keys += [k for k in run["config"] if k not in keys]
    table = {}
    for key in keys:
        values = [run["variant"] if key == "variant" else run["config"].get(key, "—") for run in runs]
        if len({json.dumps(v, sort_keys=True) for v in values}) > 1:
            table[key] = values
    return table
