"""The store's writer when the disk fails: the run fails with the real reason, nothing recorded is lost."""

import sqlite3

import pytest

from runtime import RunManager, RunStore


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
