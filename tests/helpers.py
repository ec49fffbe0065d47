"""Helpers the tests share."""

import time


def wait_for(predicate, timeout: float = 30.0, what: str = "condition", every: float = 0.02):
    """Poll ``predicate`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} ({timeout:g} s)")
