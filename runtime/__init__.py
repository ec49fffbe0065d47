"""The run runtime between ``trainers`` and the pages: threads, streaming, the SQLite store.

No Streamlit here: it can be driven from a script, a notebook or the tests.
"""

import trainers  # noqa: F401  (first: selects Keras's torch backend before keras is imported)
from runtime.access import NotYourRun, visitor_hash  # noqa: E402
from runtime.cadence import Cadence  # noqa: E402
from runtime.devices import device_info  # noqa: E402
from runtime.manager import RunManager  # noqa: E402
from runtime.snapshot import Snapshot  # noqa: E402
from runtime.store import RunStore  # noqa: E402

__all__ = ["Cadence", "NotYourRun", "RunManager", "RunStore", "Snapshot", "device_info", "visitor_hash"]
