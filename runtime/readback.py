"""A run's snapshot rebuilt from the store: what a page shows of a finished or foreign run."""

from __future__ import annotations

import numpy as np

from runtime.curves import decimate
from runtime.snapshot import Snapshot
from runtime.store import RunStore


def snapshot_from_store(store: RunStore, run_id: str) -> Snapshot | None:
    """The run as the store has it (``None`` if there is no such run); curves decimated like live ones."""
    row = store.get_run(run_id)
    if row is None:
        return None
    curves, epoch_curves, final = {}, {}, {}
    epoch_steps: set[int] = set()
    for name, (steps, _, values) in store.curves(run_id).items():
        if name.startswith("final/"):
            final[name] = float(values[-1])
        elif name.startswith("epoch/"):
            epoch_curves[name] = (steps, values.astype(np.float32))
            epoch_steps.update(steps.tolist())
        else:
            curves[name] = decimate(steps, values)
    last = store.grid(run_id)
    series = dict(
        curves=curves,
        epoch_curves=epoch_curves,
        epoch_steps=sorted(epoch_steps),
        final=final,
        grid_png=last[1] if last else None,
        grid_step=last[0] if last else None,
        grid_steps=store.grid_steps(run_id),
    )
    return Snapshot.assemble(row, series)
