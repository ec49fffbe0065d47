"""The statuses a run goes through, written once."""

ACTIVE = ("queued", "running", "paused")  # the run holds a place in the queue or a training slot
FINISHED = ("completed", "stopped", "failed", "diverged", "interrupted")
ALL = ACTIVE + FINISHED


def is_active(status: str | None) -> bool:
    return status in ACTIVE
