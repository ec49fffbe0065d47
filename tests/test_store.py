"""The SQLite run store: WAL, batched writes, concurrent readers, crash recovery by owner."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from runtime.store.run_store import RunStore


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs.sqlite")


def test_wal_mode_and_round_trip(store):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.create_run("r1", "gan", {"epochs": 1}, versions={"keras": "3"})
    w = store.writer("r1", flush_every_s=0)
    w.metrics(1, 0, {"d_loss": 0.5, "g_loss": float("inf")})
    w.grid(1, 0, b"\x89PNG...")
    w.set_progress(steps_done=1)
    w.close()
    run = store.get_run("r1")
    assert run["config"] == {"epochs": 1} and run["versions"] == {"keras": "3"} and run["steps_done"] == 1
    steps, epochs, values = store.metrics.curve("r1", "g_loss")
    assert steps.tolist() == [1] and np.isnan(values[0])  # non-finite is kept as a gap, not lost
    assert store.grid("r1") == (1, b"\x89PNG...")
    assert store.metrics.last_values("r1")["d_loss"] == 0.5


def test_writes_are_batched_and_readers_are_not_blocked(store):
    store.create_run("r1", "gan", {})
    w = store.writer("r1", flush_every_s=3600, max_rows=10_000)
    for step in range(1, 501):
        w.metrics(step, 0, {"loss": 1.0 / step})
    assert store.metrics.curve("r1", "loss")[0].size == 0  # buffered: no commit per step

    # A reader in another thread reads while the writer holds an open write transaction.
    w.conn.execute("BEGIN IMMEDIATE")
    w.conn.execute("INSERT INTO metrics (run_id, step, epoch, name, value) VALUES ('r1', 0, 0, 'other', 0)")
    seen = []
    t = threading.Thread(target=lambda: seen.append(store.get_run("r1")["status"]))
    t.start()
    t.join(5)
    assert seen == ["queued"]
    w.conn.execute("ROLLBACK")

    w.flush()
    assert store.metrics.curve("r1", "loss")[0].size == 500


def test_mark_interrupted_only_touches_runs_of_dead_processes(store, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    store.create_run("mine", "gan", {}, status="running")  # owned by this (live) process
    store.create_run("orphan", "gan", {}, status="running")
    host, _, boot, _ = store.get_run("mine")["owner"].rsplit(":", 3)
    store.update_run("orphan", owner=f"{host}:{dead.stdout.strip()}:{boot}:0")
    store.create_run("done", "gan", {}, status="completed")
    w = store.writer("orphan", flush_every_s=0)
    w.metrics(7, 0, {"loss": 0.25})
    w.close()

    assert store.mark_interrupted() == ["orphan"]
    assert store.get_run("orphan")["status"] == "interrupted"
    assert store.get_run("mine")["status"] == "running" and store.get_run("done")["status"] == "completed"
    assert store.metrics.curve("orphan", "loss")[2].tolist() == [0.25]  # what was recorded is kept


def test_delete_cascades(store):
    store.create_run("r1", "gan", {})
    w = store.writer("r1", flush_every_s=0)
    w.metrics(1, 0, {"loss": 1.0})
    w.grid(1, 0, b"png")
    w.close()
    assert store.delete_run("r1")
    assert store.get_run("r1") is None and store.metrics.metric_names("r1") == [] and store.grid("r1") is None


def test_store_from_an_older_version_gains_new_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, variant TEXT NOT NULL, config TEXT NOT NULL, "
        "status TEXT NOT NULL, created REAL NOT NULL, steps_done INTEGER NOT NULL DEFAULT 0, "
        "epoch INTEGER NOT NULL DEFAULT 0)"
    )
    old.execute("INSERT INTO runs VALUES ('r0', 'gan', '{}', 'completed', 0, 5, 1)")
    old.commit()
    old.close()
    store = RunStore(path)
    assert store.get_run("r0")["ms_per_step"] is None and store.get_run("r0")["steps_done"] == 5
    store.update_run("r0", ms_per_step=12.5, artifact="x.keras")
    assert store.get_run("r0")["ms_per_step"] == 12.5


LANDED_SCHEMA = """
CREATE TABLE runs (id TEXT PRIMARY KEY, variant TEXT NOT NULL, config TEXT NOT NULL, status TEXT NOT NULL,
    created REAL NOT NULL, started REAL, ended REAL, device TEXT, versions TEXT, error TEXT, traceback TEXT,
    steps_done INTEGER NOT NULL DEFAULT 0, total_steps INTEGER, epoch INTEGER NOT NULL DEFAULT 0, epochs INTEGER,
    batch_size INTEGER, data_source TEXT, artifact TEXT, ms_per_step REAL, owner TEXT, visitor TEXT);
CREATE TABLE metrics (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, step INTEGER NOT NULL,
    epoch INTEGER NOT NULL, name TEXT NOT NULL, value REAL);
CREATE INDEX metrics_by_run ON metrics(run_id, name, step);
CREATE TABLE grids (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, step INTEGER NOT NULL,
    epoch INTEGER NOT NULL, png BLOB NOT NULL, PRIMARY KEY (run_id, step));
"""


def test_a_store_of_the_previous_schema_is_migrated_by_user_version(tmp_path):
    """The schema the last round shipped (no user_version) gains metric times, run names and notes."""
    import sqlite3

    from runtime.store.schema import VERSION

    path = tmp_path / "landed.sqlite"
    old = sqlite3.connect(path)
    old.executescript(LANDED_SCHEMA)
    old.execute(
        "INSERT INTO runs (id, variant, config, status, created, started) VALUES ('r0', 'gan', '{}', "
        "'completed', 0, 100.0)"
    )
    old.executemany("INSERT INTO metrics VALUES ('r0', ?, 0, 'd_loss', ?)", [(s, 1.0 / s) for s in range(1, 6)])
    old.commit()
    old.close()
    store = RunStore(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == VERSION
    run = store.get_run("r0")
    assert run["name"] is None and run["notes"] is None and run["status"] == "completed"
    points = store.metrics.curve_points("r0", "d_loss", started=run["started"])
    assert points.steps.tolist() == [1, 2, 3, 4, 5] and np.isnan(points.times).all()  # old rows: no time
    w = store.writer("r0")
    w.metrics(6, 0, {"d_loss": 0.1}, t=112.5)
    w.close()
    assert store.metrics.curve_points("r0", "d_loss", started=100.0).times[-1] == 12.5
    RunStore(path)  # opening it again changes nothing
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == VERSION


def test_a_store_from_a_newer_lab_is_refused_with_a_message(tmp_path):
    import sqlite3

    path = tmp_path / "future.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(RuntimeError, match="newer version of the lab"):
        RunStore(path)


def test_a_snapshot_read_from_the_store_changes_version_when_the_run_does(store):
    """Figures are shared per (run, version): a run trained by another process must not keep
    showing its first figure (a viewer on a second server saw the chart stuck at one step)."""
    from runtime.store.readback import snapshot_from_store

    store.create_run("r1", "gan", {"epochs": 1})
    w = store.writer("r1", flush_every_s=0)
    w.set_progress(status="running")
    w.metrics(1, 0, {"d_loss": 0.5})
    w.set_progress(steps_done=1)
    w.flush()
    first = snapshot_from_store(store, "r1")
    assert snapshot_from_store(store, "r1").version == first.version  # nothing new: the same figure
    w.metrics(2, 0, {"d_loss": 0.4})
    w.set_progress(steps_done=2)
    w.flush()
    second = snapshot_from_store(store, "r1")
    assert second.version != first.version and second.step == 2
    w.close()


def test_a_restarted_process_with_the_same_host_and_pid_does_not_own_the_old_runs(store):
    """A container restarted under the same host name runs Streamlit as pid 1 again: the boot id and the
    process's start time tell the old process's runs from this one's."""
    host, pid, boot, started = _owner_parts(store)
    store.create_run("ghost", "gan", {}, status="queued")
    store.update_run("ghost", owner=f"{host}:{pid}:{boot}:{int(started) - 1}")  # same pid, started earlier
    store.create_run("reboot", "gan", {}, status="running")
    store.update_run("reboot", owner=f"{host}:{pid}:deadbeef:{started}")  # same pid and start, another boot
    store.create_run("legacy", "gan", {}, status="queued")
    store.update_run("legacy", owner=f"{host}:{pid}")  # a store from before: host:pid, this very process
    assert sorted(store.mark_interrupted()) == ["ghost", "reboot"]
    assert store.get_run("legacy")["status"] == "queued"


def _owner_parts(store):
    store.create_run("probe", "gan", {}, status="completed")
    return store.get_run("probe")["owner"].rsplit(":", 3)


def test_queued_runs_of_a_silent_process_on_another_host_are_interrupted(store):
    """A container recreated under a new host name: its old queued runs look like another machine's, and
    only their heartbeat can tell. Queued runs beat; a silent one is interrupted."""
    store.create_run("waiting", "gan", {}, status="queued", heartbeat=time.time() - 60)
    store.update_run("waiting", owner="old-container:1:abcd1234:100")
    store.create_run("fresh", "gan", {}, status="queued", heartbeat=time.time())
    store.update_run("fresh", owner="other-host:1:abcd1234:100")
    assert store.mark_interrupted(timeout=30) == ["waiting"]
    assert "signs of life" in store.get_run("waiting")["error"]


def test_a_manager_beats_for_its_queued_runs(tmp_path):
    from runtime import RunManager

    manager = RunManager(home=tmp_path, max_concurrent=1)
    first = manager.start("compute_loss", {"samples": 20_000, "batch_size": 1, "epochs": 5})
    queued = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    manager.store.update_run(queued, heartbeat=0.0)
    deadline = time.monotonic() + 10
    while manager.store.get_run(queued)["heartbeat"] < time.time() - 5:
        assert time.monotonic() < deadline, "the queued run never beat"
        time.sleep(0.05)
    other = RunStore(tmp_path / "runs.sqlite")  # another process looking at the store
    assert queued not in other.mark_interrupted(timeout=15)
    manager.controls.stop(queued)
    manager.controls.stop(first)
    manager.wait(first, 30)


def test_a_heartbeat_timeout_shorter_than_three_beats_is_refused(tmp_path, monkeypatch):
    from runtime import RunManager
    from runtime.serving.settings import settings_from_env

    monkeypatch.setenv("LAB_HEARTBEAT_TIMEOUT", "3")
    with pytest.raises(ValueError, match=r"LAB_HEARTBEAT_TIMEOUT='3' is not valid: .* from 15 .*beat every 5 s"):
        settings_from_env(tmp_path)
    with pytest.raises(ValueError, match="shorter than three heartbeats"):
        RunManager(home=tmp_path, heartbeat_timeout=3)


def test_a_damaged_store_is_explained_with_the_file_and_the_fix(tmp_path):
    from runtime import RunManager
    from runtime.store.run_store import StoreUnavailable

    (tmp_path / "runs.sqlite").write_bytes(b"this is not a database, it is a shopping list" * 100)
    with pytest.raises(StoreUnavailable, match="runs.sqlite is damaged or is not a SQLite database") as info:
        RunManager(home=tmp_path)
    assert "Move that file aside" in str(info.value) and "LAB_HOME" in str(info.value)


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MB filesystem (tmpfs), to be filled: what a full disk does to SQLite cannot be faked."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_disk_at_start_up_leaves_the_lab_reading_and_a_delete_makes_room(small_disk):
    from runtime import RunManager

    home = small_disk / "lab"
    store = RunStore(home / "runs.sqlite")
    store.create_run("a" * 12, "compute_loss", {}, status="completed", ended=1.0)
    store.create_run("b" * 12, "compute_loss", {}, status="completed", ended=2.0)
    store.conn.close()  # the last connection: the write-ahead log is folded into the file and removed
    assert sorted(p.name for p in home.iterdir()) == ["runs.sqlite"]
    (home / ("a" * 12)).mkdir()
    with pytest.raises(OSError, match="No space left"):
        with open(home / ("a" * 12) / "model.keras", "wb") as fh:  # a saved model fills the disk
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
    manager = RunManager(home=home)  # no traceback: the lab starts
    assert manager.problem.startswith(f"The disk holding the run store {home / 'runs.sqlite'} is full")
    assert "Delete runs on the Runs page" in manager.problem
    assert sorted(r["id"] for r in manager.list()) == ["a" * 12, "b" * 12]  # what it holds can be read
    with pytest.raises(ValueError, match="is full"):
        manager.start("compute_loss", {"samples": 64, "epochs": 1})
    manager.controls.delete("a" * 12)  # its model goes first: room for the store to be written again
    assert manager.problem is None and [r["id"] for r in manager.list()] == ["b" * 12]
    run_id = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    assert manager.wait(run_id, 60) == "completed"


def test_a_read_only_store_reads_the_commits_still_in_the_write_ahead_log(tmp_path):
    """A server died before its last commits were folded into the file (they are in runs.sqlite-wal): the
    read-only store (a full disk) lists them, and a run another server records later (it opened the file
    as it was at the last fold, and stayed so)."""
    path = tmp_path / "runs.sqlite"
    died = (
        "import os, sys\n"
        "from runtime.store.run_store import RunStore\n"
        "store = RunStore(sys.argv[1])\n"
        "store.conn.execute('PRAGMA wal_autocheckpoint=0')\n"  # nothing folded: the runs live in the log
        "store.create_run('a' * 12, 'compute_loss', {}, status='completed', ended=1.0)\n"
        "store.create_run('b' * 12, 'compute_loss', {}, status='completed', ended=2.0)\n"
        "os._exit(0)\n"  # no close, no fold
    )
    subprocess.run([sys.executable, "-c", died, str(path)], cwd=Path(__file__).parents[1], check=True)
    assert path.with_name("runs.sqlite-wal").stat().st_size > 0
    reading = RunStore(path, read_only=True)
    assert sorted(r["id"] for r in reading.list_runs()) == ["a" * 12, "b" * 12]
    writing = RunStore(path)
    writing.conn.execute("PRAGMA wal_autocheckpoint=0")
    writing.create_run("c" * 12, "compute_loss", {}, status="completed", ended=3.0)
    assert sorted(r["id"] for r in reading.list_runs()) == ["a" * 12, "b" * 12, "c" * 12]


def test_the_write_ahead_log_shrinks_back_once_folded(tmp_path):
    """A big write (deleting a long run touches every page it had) grows the log; once folded into the file
    it is cut back to WAL_LIMIT_MB, not kept at its largest (it counts against LAB_MAX_STORE_MB)."""
    from runtime.store.run_store import WAL_LIMIT_MB

    store = RunStore(tmp_path / "runs.sqlite")
    store.create_run("a" * 12, "gan", {}, status="completed")
    writer = store.writer("a" * 12, flush_every_s=3600, max_rows=10**6)
    blob = np.random.default_rng(0).bytes(2**20)  # incompressible, as PNGs are
    for step in range(WAL_LIMIT_MB + 16):
        writer.grid(step, 0, blob)
    writer.close()  # one commit: the log holds all of it
    wal = tmp_path / "runs.sqlite-wal"
    assert wal.stat().st_size > (WAL_LIMIT_MB + 8) * 2**20
    store.conn.execute("PRAGMA wal_checkpoint")
    store.create_run("b" * 12, "gan", {}, status="completed")  # the next write starts the log again
    assert wal.stat().st_size <= WAL_LIMIT_MB * 2**20
