"""A shared demo strangers cannot break: one test per row of the adversarial table (issue 14)."""

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runtime import RunManager, RunStore
from runtime.serving.settings import settings_from_env
from runtime.training.limits import Limits, evict, store_megabytes
from tests.apptest import page, shown, texts
from tests.helpers import wait_for
from trainers.data import MnistError, MnistNotFoundError, load_mnist

ROOT = Path(__file__).resolve().parents[1]
LONG = {"samples": 20_000, "batch_size": 1, "epochs": 5}  # ~100,000 steps: never ends in a test


# ---- start, pause, close the tab: the paused run holds the only slot -------------------------------
def test_a_paused_run_gives_up_its_slot_after_the_pause_limit_and_says_so(tmp_path):
    manager = RunManager(home=tmp_path, limits=Limits(pause_minutes=1.5 / 60))
    first = manager.start("compute_loss", LONG)
    waiting = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    wait_for(lambda: manager.snapshot(first).step > 0, what="a step")
    manager.pause(first)
    assert manager.wait(first, 30) == "stopped"
    assert "Paused for more than" in manager.snapshot(first).error and "slot" in manager.snapshot(first).error
    assert manager.wait(waiting, 60) == "completed"  # the slot went to the next run


# ---- the per-visitor cap counts per cookie token only ------------------------------------------
def test_the_per_visitor_cap_survives_a_cleared_cookie(tmp_path):
    manager = RunManager(home=tmp_path, private_runs=True, max_per_visitor=2, max_concurrent=1)
    manager.start("compute_loss", LONG, visitor="token-a-0123456789abc", client="10.0.0.7")
    manager.start("compute_loss", LONG, visitor="token-b-0123456789abc", client="10.0.0.7")  # cookie cleared
    with pytest.raises(ValueError, match="the most one visitor may have at once"):
        manager.start("compute_loss", LONG, visitor="token-c-0123456789abc", client="10.0.0.7")
    manager.start("compute_loss", LONG, visitor="token-d-0123456789abc", client="10.0.0.8")  # someone else
    manager.access = type(manager.access)()
    for row in manager.list():
        manager.stop(row["id"])


# ---- run length and store size ------------------------------------------------------------------
def test_a_run_stops_at_the_step_cap_with_the_reason(tmp_path):
    manager = RunManager(home=tmp_path, limits=Limits(run_steps=7))
    run_id = manager.start("compute_loss", LONG)
    assert manager.wait(run_id, 60) == "stopped"
    snap = manager.snapshot(run_id)
    assert snap.step == 7 and "limit of 7 steps per run" in snap.error


def test_retention_deletes_the_oldest_finished_runs_first(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    now = time.time()
    for i, age_days in enumerate([30, 10, 1]):
        store.create_run(f"01d{i:09d}", "compute_loss", {}, status="completed", ended=now - age_days * 86_400)
        (tmp_path / f"01d{i:09d}").mkdir()
    store.create_run("active000000", "compute_loss", {}, status="running", ended=None)
    assert evict(store, tmp_path, Limits(keep_days=7)) == ["01d000000000", "01d000000001"]
    assert not (tmp_path / "01d000000000").exists() and (tmp_path / "01d000000002").exists()
    writer = store.writer("01d000000002", max_rows=10**6)
    for step in range(1, 20_001):
        writer.metrics(step, 0, {"loss": 1.0 / step})
    writer.close()
    assert store_megabytes(store) > 0.5
    assert evict(store, tmp_path, Limits(store_mb=0.5)) == ["01d000000002"]  # too big: the oldest go
    assert store.get_run("active000000") is not None  # an active run is never evicted


# ---- links echo parameters into the page as Markdown ---------------------------------------------
def test_link_parameters_are_shown_as_text_never_as_links_or_images(lab):
    evil_link = "[Session expired - log in again](http://evil.example/login)"
    evil_image = "![x](http://evil.example/pixel.png)"
    at = page("pages/gan.py", **{evil_link: "1", "latent_dim": evil_image, "run": evil_link})
    assert not at.exception
    shown = "\n".join(str(e.value) for kind in ("warning", "error", "info") for e in at.get(kind))
    outside_code = re.sub(r"`+[^`]*`+", "", shown)  # a code span shows its text literally
    assert "](http" not in outside_code  # elsewhere every bracket and colon is escaped: no link or image forms
    assert "http\\:" in shown and "`[Session expired" in shown  # the text is still there, to be read


# ---- delete in one tab, touch the run in another ---------------------------------------------------
def test_touching_a_run_deleted_in_another_tab_is_explained(lab):
    manager = lab()
    run_id = manager.start("compute_loss", {"samples": 64, "epochs": 1})
    assert manager.wait(run_id, 60) == "completed"
    at = page("pages/runs.py", run=run_id)
    manager.delete(run_id)  # the other tab
    at.button(key=f"save-name:{run_id}").click().run()
    assert not at.exception
    at = page("pages/compute_loss.py", run=run_id)
    assert not at.exception and "no run" in texts(at)


# ---- a stored run of a variant no longer registered -----------------------------------------------
def test_a_run_of_a_retired_variant_is_shown_not_crashed_on(lab):
    manager = lab()
    manager.store.create_run("abcdef012345", "retired_variant", {"x": 1}, status="completed", name="old idea")
    at = page("pages/gan.py", run="abcdef012345")
    assert not at.exception and "not offered by this lab any more" in texts(at)
    runs = page("pages/runs.py", run="abcdef012345")
    assert not runs.exception and "old idea" in list(runs.dataframe[0].value["name"])


# ---- two server processes on one LAB_HOME; kill -9 while paused ------------------------------------
def _other_process(home: Path, config: dict) -> subprocess.Popen:
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from runtime import RunManager
        m = RunManager(home={str(home)!r})
        run_id = m.start("compute_loss", {config!r})
        print(run_id, flush=True)
        m.wait(run_id)
        time.sleep(600)
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "torch", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)


def test_another_process_runs_are_stopped_through_the_store_and_not_deleted(tmp_path):
    proc = _other_process(tmp_path, LONG)
    try:
        run_id = proc.stdout.readline().strip()
        here = RunManager(home=tmp_path)  # a second server on the same store
        wait_for(lambda: here.snapshot(run_id) and here.snapshot(run_id).step > 0, 60, "the other run's steps")
        assert here.snapshot(run_id).status == "running"  # its process is alive: not interrupted
        with pytest.raises(ValueError, match="still training in another process"):
            here.delete(run_id)
        here.stop(run_id)  # a control request through the store
        wait_for(lambda: here.snapshot(run_id).status == "stopped", 30, "the other process to stop it")
        here.delete(run_id)  # finished: anyone's to delete
        assert here.store.get_run(run_id) is None
    finally:
        proc.kill()
        proc.wait()


def test_kill_9_while_paused_keeps_every_step_and_ends_interrupted(tmp_path):
    proc = _other_process(tmp_path, LONG)
    try:
        run_id = proc.stdout.readline().strip()
        here = RunManager(home=tmp_path, heartbeat_timeout=15)  # the least: three beats
        wait_for(lambda: (here.snapshot(run_id) or None) and here.snapshot(run_id).step > 20, 60, "steps")
        here.pause(run_id)
        wait_for(lambda: here.store.get_run(run_id)["status"] == "paused", 30, "the store to say paused")
        held = here.store.get_run(run_id)["steps_done"]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        snap = here.snapshot(run_id)
        assert snap.status == "interrupted" and "stopped" in snap.error
        assert snap.step == held and len(here.store.curve(run_id, "loss")[0]) == held  # nothing lost
    finally:
        proc.kill()
        proc.wait()


def test_a_silent_run_of_another_host_is_marked_interrupted_after_the_heartbeat_timeout(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    store.create_run("abcdef000001", "compute_loss", {}, status="running", owner="elsewhere:1", heartbeat=time.time())
    store.create_run(
        "abcdef000002", "compute_loss", {}, status="running", owner="elsewhere:2", heartbeat=time.time() - 120
    )
    manager = RunManager(home=tmp_path, heartbeat_timeout=30)
    states = {r["id"]: r["status"] for r in manager.list()}
    assert states == {"abcdef000001": "running", "abcdef000002": "interrupted"}
    assert "signs of life" in manager.store.get_run("abcdef000002")["error"]


# ---- full disk -------------------------------------------------------------------------------------
def test_a_full_store_fails_the_run_with_the_real_reason(tmp_path, monkeypatch):
    manager = RunManager(home=tmp_path)
    original = RunStore.writer

    def cramped(self, run_id, **kwargs):
        writer = original(self, run_id, **kwargs)
        pages = writer.conn.execute("PRAGMA page_count").fetchone()[0]
        writer.conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # a disk that fills up at once
        return writer

    monkeypatch.setattr(RunStore, "writer", cramped)
    run_id = manager.start("compute_loss", {"samples": 20_000, "batch_size": 1, "epochs": 1})
    assert manager.wait(run_id, 120) == "failed"
    error = manager.snapshot(run_id).error
    assert "run store is full" in error and "database or disk is full" in error
    assert "cannot rollback" not in error


def test_a_failed_commit_keeps_its_own_error(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    store.create_run("abcdef000003", "compute_loss", {})
    writer = store.writer("abcdef000003", flush_every_s=3600, max_rows=10**6)
    writer.conn.execute(f"PRAGMA max_page_count = {writer.conn.execute('PRAGMA page_count').fetchone()[0]}")
    for step in range(1, 5000):
        writer.metrics(step, 0, {"loss": 0.5})
    with pytest.raises(sqlite3.OperationalError, match="full"):
        writer.flush()


# ---- wrong settings are explained -------------------------------------------------------------
@pytest.mark.parametrize(
    "name, value, message",
    [
        ("LAB_TORCH_THREADS", "99999999999999999999", "LAB_TORCH_THREADS='99999999999999999999' is not valid"),
        ("LAB_MAX_CONCURRENT", "0", "from 1 to 64"),
        ("LAB_PAUSE_LIMIT_MINUTES", "soon", "LAB_PAUSE_LIMIT_MINUTES='soon' is not valid"),
        ("LAB_PRIVATE_RUNS", "maybe", "set it to 1 (on) or 0 (off)"),
    ],
)
def test_wrong_lab_settings_are_explained(monkeypatch, tmp_path, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings_from_env(tmp_path)


def test_lab_home_a_file_read_only_or_with_a_tilde(monkeypatch, tmp_path):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    monkeypatch.setenv("LAB_HOME", str(a_file))
    with pytest.raises(ValueError, match="is a file, not a folder"):
        settings_from_env(tmp_path)
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        monkeypatch.setenv("LAB_HOME", str(locked / "runs"))
        with pytest.raises(ValueError, match="cannot be written"):
            settings_from_env(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LAB_HOME", "~/lab-runs")
    assert settings_from_env(tmp_path)["home"] == tmp_path / "lab-runs"  # not a folder named "~"
    monkeypatch.setenv("LAB_HOME", "~no-such-user-0/runs")  # found by the fuzz test: a RuntimeError before
    with pytest.raises(ValueError, match="home folder of a user this system does not know"):
        settings_from_env(tmp_path)


def test_the_page_explains_a_wrong_setting(lab, monkeypatch):
    monkeypatch.setenv("LAB_TORCH_THREADS", "99999999999999999999")
    try:
        at = page()
        assert not at.exception
        assert "LAB_TORCH_THREADS='99999999999999999999' is not valid" in shown(at.error[0].value)
    finally:
        monkeypatch.delenv("LAB_TORCH_THREADS")  # before the fixture's clean-up builds a manager


def test_mnist_dir_a_symlink_loop_or_without_images(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(MnistNotFoundError):
        load_mnist(loop)
    empty = tmp_path / "empty"
    empty.mkdir()
    import gzip
    import struct

    with gzip.open(empty / "t10k-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">IIII", 2051, 0, 28, 28))
    with gzip.open(empty / "t10k-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">II", 2049, 0))
    with pytest.raises(MnistError, match="hold no images"):
        load_mnist(empty)


# ---- run ids reach no path unchecked -----------------------------------------------------------
@pytest.mark.parametrize("bad", ["../x", "..", "/etc", "abc", "ABCDEF012345", "abcdef01234/", ""])
def test_run_ids_are_checked_before_any_path_is_made(tmp_path, bad):
    outside = tmp_path / "x"
    outside.mkdir()
    manager = RunManager(home=tmp_path / "lab")
    with pytest.raises(ValueError, match="not a run id"):
        manager.delete(bad)
    with pytest.raises(ValueError, match="not a run id"):
        manager.run_dir(bad)
    assert manager.snapshot(bad) is None and outside.exists()


# ---- the visitor cookie --------------------------------------------------------------------------
def _cookies_set(scope_extra: dict, request_cookie: bytes | None = None) -> list[str]:
    from ui.server import VisitorCookie

    sent = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message):
        sent.append(message)

    headers = [(b"cookie", request_cookie)] if request_cookie else []
    scope = {"type": "http", "scheme": "http", "headers": headers, **scope_extra}
    asyncio.run(VisitorCookie(app)(scope, None, send))
    return [v.decode() for k, v in sent[0]["headers"] if k == b"set-cookie"]


def test_the_visitor_cookie_is_http_only_and_secure_over_https(monkeypatch):
    (plain_http,) = _cookies_set({})
    assert "HttpOnly" in plain_http and "SameSite=Lax" in plain_http and "Secure" not in plain_http
    (over_https,) = _cookies_set({"scheme": "https"})
    assert "Secure" in over_https
    assert _cookies_set({}, b"lab_visitor=abcdefghijklmnopqrstuvwx") == []  # it has one: left alone
    monkeypatch.setenv("LAB_TRUST_PROXY", "1")
    (proxied,) = _cookies_set({"headers": [(b"x-forwarded-proto", b"https")]})
    assert "Secure" in proxied
