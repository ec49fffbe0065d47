"""A run's snapshot rebuilt from the store: what a page shows of a finished or foreign run."""

from __future__ import annotations

from runtime.record.snapshot import Snapshot
from runtime.store.run_store import RunStore


def snapshot_from_store(store: RunStore, run_id: str) -> Snapshot | None:
    """The run as the store has it (``None`` if there is no such run), in the live curves' buckets."""
    row = store.get_run(run_id)
    if row is None:
        return None
    curves, epoch_curves, final = {}, {}, {}
    epoch_steps: set[int] = set()
    started = row.get("started")
    for name in store.metrics.metric_names(run_id):
        if name.startswith("final/"):
            final[name] = float(store.metrics.series(run_id, name).values[-1])
        elif name.startswith("epoch/"):
            epoch_curves[name] = store.metrics.series(run_id, name, started)
            epoch_steps.update(epoch_curves[name].steps.tolist())
        else:
            curves[name] = store.metrics.curve_points(run_id, name, started)
    last = store.grid(run_id)
    series = dict(
        curves=curves,
        epoch_curves=epoch_curves,
        epoch_steps=sorted(epoch_steps),
        final=final,
        grid_png=last[1] if last else None,
        grid_step=last[0] if last else None,
        grid_steps=store.grid_steps(run_id),
        events=[
            (e["step"], (e["t"] - started) if e["t"] is not None and started is not None else float("nan"), e["text"])
            for e in store.events(run_id)
        ],
    )
    # Pages share figures per (run, version): a run another process is training changes in the
    # store alone, so its version is told from what was read (store rows are only ever added).
    version = (
        hash(
            (
                row.get("steps_done"),
                row.get("status"),
                tuple(c.last_step for c in curves.values()),
                len(series["events"]),
                series["grid_step"],
                len(epoch_steps),
                len(final),
            )
        )
        & 0x7FFFFFFF
    )
    return Snapshot.assemble(row, series, version=version)
