"""The run store's tables, and how a store made by an older version is brought up to date."""

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    variant TEXT NOT NULL,
    config TEXT NOT NULL,          -- JSON of the validated config
    status TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    device TEXT,
    versions TEXT,                 -- JSON: python, keras, torch, numpy
    error TEXT,
    traceback TEXT,
    steps_done INTEGER NOT NULL DEFAULT 0,
    total_steps INTEGER,
    epoch INTEGER NOT NULL DEFAULT 0,
    epochs INTEGER,
    batch_size INTEGER,
    data_source TEXT,
    artifact TEXT,                 -- path of the saved .keras model
    ms_per_step REAL,              -- mean time inside the train step, after warm-up
    owner TEXT,                    -- host:pid of the process that runs it
    visitor TEXT                   -- hash of the browser that started it (private runs)
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL                     -- NULL stands for a non-finite value
);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics(run_id, name, step);
CREATE TABLE IF NOT EXISTS grids (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    png BLOB NOT NULL,
    PRIMARY KEY (run_id, step)
);
"""


def migrate(conn: sqlite3.Connection) -> None:
    """Create the tables, and bring a store made by an older version up to date (new nullable columns)."""
    conn.executescript(SCHEMA)
    have = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
    create = SCHEMA.split("CREATE TABLE IF NOT EXISTS runs (")[1].split(");")[0]
    for line in create.splitlines():
        parts = line.strip().rstrip(",").split()
        if len(parts) >= 2 and parts[0] not in have and parts[0].isidentifier() and "NOT NULL" not in line:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {parts[0]} {parts[1].rstrip(',')}")
