"""The run runtime between ``trainers`` and the pages, grouped along the path a run's data takes:

- ``runtime.training``: the job that calls ``fit()`` and its callbacks (curves, grids, scores, controls);
- ``runtime.record``: the run in memory (curve buckets, the live run, snapshots);
- ``runtime.store``: the SQLite store (schema, writer, reads, exports);
- ``runtime.serving``: the manager pages call, the scheduler, access rules, sweeps, settings;
- ``runtime.workers``: where a run trains (a thread, a worker process, a Ray actor).

No Streamlit here: it can be driven from a script, a notebook or the tests. The names below are
loaded on first use, so a worker process that imports ``runtime.training`` never loads the server's
manager.
"""

import importlib

import trainers  # noqa: F401  (first: selects Keras's torch backend before keras is imported)

_EXPORTS = {
    "Cadence": "runtime.training.cadence",
    "NotYourRun": "runtime.serving.access",
    "RunManager": "runtime.serving.manager",
    "RunStore": "runtime.store.run_store",
    "Snapshot": "runtime.record.snapshot",
    "device_info": "runtime.training.devices",
    "visitor_hash": "runtime.serving.access",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'runtime' has no attribute {name!r}")
