"""Helpers for AppTest-driven page tests (the ``lab`` fixture itself is in conftest.py)."""

import re
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 60


def page(path: str | None = None, **query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if path:
        at.switch_page(path)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def wait_for_first_step(manager, run_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while manager.snapshot(run_id).step < 1:
        assert time.monotonic() < deadline, "the run did not take its first step"
        time.sleep(0.1)


def shown(markdown: str) -> str:
    """What a person reads of the lab's escaped Markdown (ui/fmt.py): no backslashes, no zero-width spaces."""
    return re.sub(r"\\(.)", r"\1", str(markdown)).replace("\u200b", "")


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success") for e in at.get(kind)]
    return "\n".join(shown(p) for p in parts)
