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

from runtime.record.snapshot import sample_evenly
from runtime.store.run_store import RunStore

MAX_GIF_FRAMES = 100


class RunGone(RuntimeError):
    """The run was deleted while its file was being written: what was written is not all of it."""


def metrics_csv_download(store: RunStore, run_id: str, **reads: int) -> Iterator[bytes]:
    """``metrics_csv_chunks`` for a download, from a pinned copy of the store (``RunStore.pinned``, closed
    at the end). A run deleted or evicted meanwhile (another tab, another server, the size limit) leaves
    the later windows empty: the file would end early looking whole, so the download fails instead
    (``RunGone``; the browser says the download failed). Each window is its own short read: one
    transaction held for a slow download would keep SQLite from folding its log, which would grow."""
    try:
        yield from metrics_csv_chunks(store, run_id, **reads)
        if store.get_run(run_id) is None:
            raise RunGone(f"run {run_id} was deleted while its metrics were being downloaded")
    finally:
        store.close()


def metrics_csv_chunks(
    store: RunStore, run_id: str, rows_per_chunk: int = 5000, steps_per_read: int = 20_000
) -> Iterator[bytes]:
    """The metrics CSV in chunks, read from the store a window of steps at a time: memory stays
    bounded however long the run. One row per step: step, epoch (1-based), seconds since the run
    started, then a column per metric (``epoch/...`` and ``final/...`` on the step they were recorded),
    then, for each setting steered while the run trained, a ``setting/<name>`` column with the value
    that step trained with (so a curve's bend can be read against the change that caused it)."""
    names = store.metrics.metric_names(run_id)
    run = store.get_run(run_id)
    started = run.get("started") if run else None
    changes = [c for c in setting_changes(store.events(run_id)) if c["kind"] == "steer"]
    steered = list(dict.fromkeys(name for c in changes for name in c["set"]))
    current = {name: (run or {}).get("config", {}).get(name) for name in steered}
    pending = iter(changes)
    upcoming = next(pending, None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = [*(spreadsheet_safe(n) for n in names), *(spreadsheet_safe(f"setting/{n}") for n in steered)]
    writer.writerow(["step", "epoch", "time_s", *header])
    count = 0
    for step, epoch, t, values in store.metrics.metric_rows(run_id, names, chunk=steps_per_read):
        while upcoming is not None and upcoming["step"] < step:  # set after step s: steps s+1 on train with it
            current.update(upcoming["set"])
            upcoming = next(pending, None)
        elapsed = "" if t is None or started is None else f"{t - started:.3f}"
        settings = [_setting_cell(current[n]) for n in steered]
        writer.writerow([step, epoch + 1, elapsed, *(_cell(values.get(n)) for n in names), *settings])
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


def _setting_cell(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else spreadsheet_safe(str(value))
    return _cell(value)


def setting_changes(events: list[dict], started: float | None = None) -> list[dict]:
    """What a person did to a run while it trained, for exports: each steering change (``set``: the
    settings and their new values, in effect from the step after ``step``) and each single step,
    with ``time_s`` since the run started."""
    changes = []
    for event in events:
        t = event["t"]
        time_s = None if t is None or started is None else round(t - started, 3)
        change = {"step": event["step"], "time_s": time_s, "kind": event["kind"]}
        if event["kind"] == "steer":
            change["set"] = dict(event["payload"] or {})
        else:
            change["what"] = event["text"]
        changes.append(change)
    return changes


def metrics_csv(store: RunStore, run_id: str) -> bytes:
    """The whole metrics CSV as bytes (see ``metrics_csv_chunks``; for short runs and scripts)."""
    return b"".join(metrics_csv_chunks(store, run_id))


def config_json(store: RunStore, run_id: str) -> bytes:
    """The run's settings and provenance: variant, config, status, device, library versions. ``config``
    is what the run started with; ``changes`` lists what was steered mid-run (when, to what) and
    ``config_at_end`` the settings it ended with, those changes applied."""
    run = store.get_run(run_id)
    if run is None:
        raise KeyError(run_id)
    changes = setting_changes(store.events(run_id), run.get("started"))
    at_end = dict(run.get("config") or {})
    for change in changes:
        at_end.update(change.get("set", {}))
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
    record = {k: run.get(k) for k in keep} | {"changes": changes, "config_at_end": at_end}
    return json.dumps(record, indent=2, sort_keys=False).encode()


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
        if (found := store.grid(run_id, step)) is not None:  # None: the run was deleted meanwhile
            frames.append(_label(found[1], f"step {step:,}"))
    if not frames:
        return None
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


def _flatten(config: dict, skip: tuple[str, ...]) -> dict:
    out = {}
    for key, value in config.items():
        if key in skip:
            continue
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def differing_settings(runs: list[dict], skip: tuple[str, ...] = ()) -> dict[str, list]:
    """Settings (and the variant) whose values are not the same across ``runs``, one list per key; a
    nested mapping (your own step's ``hp``) compared setting by setting (``hp.learning_rate``), and the
    ``skip`` keys left out (a module's source, whose diff the compare view shows)."""
    flat = [{"variant": run["variant"], **_flatten(run["config"], skip)} for run in runs]
    keys: list[str] = []
    for settings in flat:
        keys += [k for k in settings if k not in keys]
    table = {}
    for key in keys:
        values = [settings.get(key, "—") for settings in flat]
        if len({json.dumps(v, sort_keys=True) for v in values}) > 1:
            table[key] = values
    return table
