"""The run store: one SQLite file (WAL mode) with runs, per-step metrics and sample grids.

Readers (the pages, any number of threads) never block the writer, and each
training thread writes through its own ``RunWriter``, which batches rows and
commits about once a second rather than once a step. What was committed survives a
crash: a manager opening the store marks runs whose process is gone as
``interrupted`` and their curves and grids stay readable.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from runtime.record.status import ACTIVE
from runtime.store.metric_reads import MetricReads
from runtime.store.schema import migrate
from runtime.store.writer import RunWriter

WAL_LIMIT_MB = 32  # the write-ahead log is cut back to this once folded (a big delete grew it for good)


def _process_start(pid: int | str) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), or None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[19]  # field 22; the name in parentheses may hold spaces
    except (OSError, IndexError):
        return None


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip()[:8]
    except OSError:
        return "-"


def _owner() -> str:
    """This process, in a way a restart changes: host, pid, boot and the process's start time.

    A restarted container often has the same host name and pid (Streamlit as pid 1 again):
    with the boot id and the start time, the old process's runs are not mistaken for this one's.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{_boot_id()}:{_process_start(os.getpid()) or '-'}"


def _owner_alive(owner: str | None) -> bool:
    """Whether the process that owns a run still exists (only knowable on this host; elsewhere, and for
    a queued run, the heartbeat tells)."""
    if not owner or ":" not in owner:
        return False
    parts = owner.split(":")
    host, pid = (":".join(parts[:-3]), parts[-3]) if len(parts) >= 4 else (owner.rpartition(":")[0], parts[-1])
    if host != socket.gethostname():
        return True  # another machine's run: its heartbeat says whether it lives
    if len(parts) >= 4 and (parts[-2], parts[-1]) != (_boot_id(), _process_start(pid) or "-"):
        return False  # another boot, or another process that got the same pid
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


class StoreUnavailable(RuntimeError):
    """The store cannot be opened at all (a damaged file, a full or read-only disk); the message says
    which file, why, and what to do."""


def explain_store_error(exc: BaseException, path: Path | str = "the run store") -> str | None:
    """A store failure in words a person can act on (the real SQLite error kept), or None."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "full" in text:
        return (
            f"The run store is full ({text}): the disk has no space left, or the store reached its size limit. "
            "Free some space (delete old runs on the Runs page: their saved models go first; or set "
            "LAB_MAX_STORE_MB so the oldest go). What was recorded before is kept."
        )
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in text:
        return f"The run store cannot be written ({text}): point LAB_HOME at a writable folder."
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return (
            f"The run store {path} is damaged or is not a SQLite database ({text}). Move that file aside "
            "(the lab then starts an empty store in its place; `sqlite3 <file> .recover` may get the old runs "
            "back), or point LAB_HOME at another folder."
        )
    if isinstance(exc, sqlite3.OperationalError) and "disk I/O" in text:
        return f"The disk under the run store {path} failed ({text}): check it, or point LAB_HOME elsewhere."
    return None


class RunStore:
    """Access to the SQLite run store; safe to share between threads."""

    def __init__(self, path: str | os.PathLike, _migrate: bool = True, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only  # a disk too full to open the store for writing: read what it holds
        self._local = threading.local()
        self._pinned: sqlite3.Connection | None = None
        self.metrics = MetricReads(lambda: self.conn)  # names, curves, rows and last values of a run's metrics
        if read_only:
            try:
                self._connect().execute("SELECT COUNT(*) FROM runs").fetchone()
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"The run store {self.path} cannot be read either ({exc}).") from exc
            return
        if not _migrate:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect()
            try:
                migrate(conn)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            words = explain_store_error(exc, self.path) or f"The run store {self.path} cannot be opened ({exc})."
            raise StoreUnavailable(words) from exc
        except OSError as exc:
            raise StoreUnavailable(
                f"The run store's folder {self.path.parent} cannot be made ({exc}): point LAB_HOME at a writable "
                "folder with free space."
            ) from exc

    def pinned(self) -> "RunStore":
        """A reader over one connection of its own, usable from one thread after another (never two at
        once): for a long read that a web server continues on whichever worker thread is free."""
        other = RunStore(self.path, _migrate=False)
        other.read_only = self.read_only
        other._pinned = other._connect(check_same_thread=False)
        return other

    def close(self) -> None:
        if self._pinned is not None:
            self._pinned.close()
            self._pinned = None

    def _connect(self, check_same_thread: bool = True) -> sqlite3.Connection:
        if self.read_only:  # there is no room to write: reading only
            # mode=ro reads the write-ahead log too (the last commits, and another server's as they come);
            # immutable, where even that cannot open (no room for its shared-memory file), needs nothing
            # but sees only what was folded into the file.
            for mode in ("mode=ro", "immutable=1"):
                conn = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?{mode}", uri=True, check_same_thread=check_same_thread
                )
                try:
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                except sqlite3.Error:
                    conn.close()
                    if mode == "immutable=1":
                        raise
                    continue
                conn.row_factory = sqlite3.Row
                return conn
        conn = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=check_same_thread
        )  # autocommit; explicit BEGIN
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_MB * 2**20}")  # the log shrinks back once folded
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not cross threads), or the pinned one."""
        if self._pinned is not None:
            return self._pinned
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    # ---- runs ---------------------------------------------------------------
    def create_run(self, run_id: str, variant: str, config: dict, **fields: Any) -> None:
        row = {
            "id": run_id,
            "variant": variant,
            "config": json.dumps(config),
            "status": "queued",
            "created": time.time(),
            "owner": _owner(),
            **fields,
        }
        if "versions" in row and not isinstance(row["versions"], str):
            row["versions"] = json.dumps(row["versions"])
        cols = ", ".join(row)
        self.conn.execute(f"INSERT INTO runs ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))

    def update_run(self, run_id: str, **fields: Any) -> None:
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", [*fields.values(), run_id])

    def get_run(self, run_id: str) -> dict | None:
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run_dict(row) if row else None

    def list_runs(self, limit: int = 200) -> list[dict]:
        rows = self.conn.execute("SELECT * FROM runs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [_run_dict(r) for r in rows]

    def names_like(self, prefix: str) -> set[str]:
        """Names of runs that start with ``prefix`` (to keep a new run's name unique)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.conn.execute("SELECT name FROM runs WHERE name LIKE ? ESCAPE '\\'", (escaped + "%",))
        return {r[0] for r in rows}

    def step_times(self, variant: str) -> list[dict]:
        """(config, device, ms_per_step) of every run of ``variant`` that measured its step time."""
        rows = self.conn.execute(
            "SELECT config, device, ms_per_step FROM runs WHERE variant = ? AND ms_per_step IS NOT NULL", (variant,)
        ).fetchall()
        return [{"config": json.loads(r[0]), "device": r[1], "ms_per_step": r[2]} for r in rows]

    def mark_interrupted(
        self, timeout: float | None = None, only: str | None = None, skip: set[str] = frozenset()
    ) -> list[str]:
        """Mark active runs whose owner is gone as interrupted; return their ids.

        Gone: its process no longer exists on this host, or (``timeout``) a running or paused
        run has not beaten for that long, whatever process or host owned it.
        ``only`` checks one run (what a page looking at a foreign run does).
        """
        marks = ", ".join("?" * len(ACTIVE))
        query = f"SELECT id, owner, status, heartbeat FROM runs WHERE status IN ({marks})"
        params: list = list(ACTIVE)
        if only is not None:
            query += " AND id = ?"
            params.append(only)
        now = time.time()
        dead = []
        for r in self.conn.execute(query, params).fetchall():
            if r["id"] in skip:  # this process's own runs: it knows they are alive
                continue
            silent = timeout and r["heartbeat"] and now - r["heartbeat"] > timeout  # queued runs beat too
            if not _owner_alive(r["owner"]) or silent:
                dead.append((r["id"], bool(silent)))
        for run_id, silent in dead:
            why = (
                f"Its process stopped sending signs of life (none for more than {timeout:g} s)"
                if silent
                else "The process running this run stopped (crash or restart)"
            )
            self.conn.execute(
                f"UPDATE runs SET status = 'interrupted', ended = ?, error = ? WHERE id = ? AND status IN ({marks})",
                (now, f"{why}; what was recorded is kept.", run_id, *ACTIVE),
            )
        return [run_id for run_id, _ in dead]

    def request_control(self, run_id: str, action: str) -> None:
        """Ask the process that trains ``run_id`` to stop, pause or resume it (it polls the store)."""
        self.conn.execute("INSERT INTO controls VALUES (?, ?, ?)", (run_id, action, time.time()))

    def delete_run(self, run_id: str) -> bool:
        cur = self.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        return cur.rowcount > 0

    def events(self, run_id: str) -> list[dict]:
        """What was done to the run while it trained, in order: step, t (wall clock), kind, text, payload."""
        rows = self.conn.execute(
            "SELECT step, t, kind, text, payload FROM events WHERE run_id = ? ORDER BY step, rowid", (run_id,)
        )
        return [dict(r) | {"payload": json.loads(r["payload"]) if r["payload"] else None} for r in rows]

    # ---- grids ------------------------------------------------------------------
    def grid_steps(self, run_id: str) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT step FROM grids WHERE run_id = ? ORDER BY step", (run_id,))]

    def grid(self, run_id: str, step: int | None = None) -> tuple[int, bytes] | None:
        """The grid at ``step`` (the latest one at or before it), or the last grid if ``step`` is None."""
        if step is None:
            row = self.conn.execute(
                "SELECT step, png FROM grids WHERE run_id = ? ORDER BY step DESC LIMIT 1", (run_id,)
            ).fetchone()
        else:
            row = self.conn.execute(
                "SELECT step, png FROM grids WHERE run_id = ? AND step <= ? ORDER BY step DESC LIMIT 1",
                (run_id, step),
            ).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def writer(self, run_id: str, flush_every_s: float = 1.0, max_rows: int = 2000) -> RunWriter:
        return RunWriter(self._connect(), run_id, flush_every_s, max_rows)


def _run_dict(row: sqlite3.Row) -> dict:
    out = dict(row)
    out["config"] = json.loads(out["config"]) if out.get("config") else {}
    out["versions"] = json.loads(out["versions"]) if out.get("versions") else {}
    return out
