"""``StoreGuard``: the run store as the server holds it, through a full disk and back.

On a disk too full even to open the store for writing, the lab still starts: it reads
what the store holds, read-only, and says what is wrong (``problem``) until a write
succeeds again (deleting a run frees room). Writes that can wait (housekeeping) turn a
failure into ``problem`` rather than an exception.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from runtime.store.run_store import RunStore, StoreUnavailable, explain_store_error


class StoreGuard:
    """Holds the server's ``RunStore`` (``store``) and, while it cannot be written, why (``problem``)."""

    def __init__(self, home: Path, store: RunStore | None = None):
        self.problem: str | None = None  # what is wrong with the store, in words, until a write succeeds
        self.store = store or self._open(home / "runs.sqlite")

    def _open(self, path: Path) -> RunStore:
        """The store, for writing; where the disk is too full even to open it so, read-only (``problem`` says
        why and what to do). A damaged file raises ``StoreUnavailable``: nothing can be read."""
        try:
            return RunStore(path)
        except StoreUnavailable as exc:
            if not path.is_file() or "damaged" in str(exc):
                raise
            store = RunStore(path, read_only=True)  # raises the same way if it cannot be read either
            free = shutil.disk_usage(path.parent).free
            why = f"The disk holding the run store {path} is full ({free / 2**20:.1f} MB free)" if free < 2**26 else exc
            self.problem = (
                f"{why}. The lab shows what the store holds, read-only: new runs cannot start until there is room. "
                "Delete runs on the Runs page (their saved models go first), free space on the disk, or set "
                "LAB_MAX_STORE_MB so that the oldest runs go."
            )
            return store

    def writable(self) -> bool:
        """Whether the store takes writes; a read-only store is opened for writing again if it now can be."""
        if not self.store.read_only:
            return True
        try:
            self.store = RunStore(self.store.path)
        except StoreUnavailable:
            return False
        self.problem = None
        return True

    def wrote(self) -> None:
        """A write went through: whatever was wrong is no longer."""
        self.problem = None

    def housekeeping(self, task, fallback):
        """Run a store write that can wait; a failure becomes ``problem`` (explained), not an exception."""
        if self.store.read_only:
            return fallback
        try:
            result = task()
        except (sqlite3.Error, OSError) as exc:
            self.problem = explain_store_error(exc, self.store.path) or f"The run store cannot be written ({exc})."
            return fallback
        return result

    def failure(self, exc: sqlite3.Error) -> ValueError:
        """A refused start's words for a write that failed (a full disk): nothing started, and why."""
        words = explain_store_error(exc, self.store.path) or f"The run store failed ({exc})."
        return ValueError(words)
