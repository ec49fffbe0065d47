"""The run runtime between ``trainers`` and the pages: threads, streaming, the SQLite store.

No Streamlit here: it can be driven from a script, a notebook or the tests.
"""

import trainers  # noqa: F401  (first: selects Keras's torch backend before keras is imported)
from runtime.live import Snapshot  # noqa: E402
from runtime.manager import NotYourRun, RunManager, device_info  # noqa: E402
from runtime.store import RunStore  # noqa: E402

__all__ = ["NotYourRun", "RunManager", "RunStore", "Snapshot", "device_info"]
