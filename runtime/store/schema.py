"""The run store's tables, versioned with SQLite's ``user_version``, and their migrations.

``migrate`` brings any store up to ``VERSION``: a new store runs every step in turn,
an older one only the steps after its version. A store made before versions were
kept (``user_version`` 0) may have the first tables without the columns later
rounds added; step 1 adds exactly those.
"""

from __future__ import annotations

import sqlite3

BASE = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    variant TEXT NOT NULL,
    config TEXT NOT NULL,          -- JSON of the validated config
    status TEXT NOT NULL,
    created REAL NOT NULL,
    steps_done INTEGER NOT NULL DEFAULT 0,
    epoch INTEGER NOT NULL DEFAULT 0
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

RUN_COLUMNS_V1 = (  # nullable columns of the runs table as the first two rounds left it
    ("started", "REAL"),
    ("ended", "REAL"),
    ("device", "TEXT"),
    ("versions", "TEXT"),  # JSON: python, keras, torch, numpy
    ("error", "TEXT"),
    ("traceback", "TEXT"),
    ("total_steps", "INTEGER"),
    ("epochs", "INTEGER"),
    ("batch_size", "INTEGER"),
    ("data_source", "TEXT"),
    ("artifact", "TEXT"),  # path of the saved .keras model
    ("ms_per_step", "REAL"),  # mean time inside the train step, after warm-up
    ("owner", "TEXT"),  # host:pid of the process that runs it
    ("visitor", "TEXT"),  # hash of the browser that started it (private runs)
)


def _v1(conn: sqlite3.Connection) -> None:
    for statement in BASE.split(";"):  # not executescript(): it would commit the migration's transaction
        if statement.strip():
            conn.execute(statement)
    have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for name, kind in RUN_COLUMNS_V1:
        if name not in have:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")


BUCKET = 64  # steps per row of metric_buckets (a power of two, so wider buckets are exact unions)


def _v2(conn: sqlite3.Connection) -> None:
    # Wall-clock time of each metric row (x-axis by time); a run's name and notes.
    conn.execute("ALTER TABLE metrics ADD COLUMN t REAL")
    conn.execute("ALTER TABLE runs ADD COLUMN name TEXT")
    conn.execute("ALTER TABLE runs ADD COLUMN notes TEXT")
    # Per-metric sums over buckets of BUCKET steps, written as a run goes: a long curve is
    # read back from these (1/64 of the rows) instead of from every metric row.
    conn.execute(
        """CREATE TABLE metric_buckets (
               run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
               name TEXT NOT NULL,
               bucket INTEGER NOT NULL,   -- steps bucket*64+1 .. (bucket+1)*64
               n INTEGER NOT NULL, step_sum REAL NOT NULL, t_sum REAL NOT NULL, t_n INTEGER NOT NULL,
               v_sum REAL NOT NULL, bad INTEGER NOT NULL, lo REAL, hi REAL,
               PRIMARY KEY (run_id, name, bucket)
           ) WITHOUT ROWID"""
    )
    conn.execute(
        f"""INSERT INTO metric_buckets
            SELECT run_id, name, (step - 1) / {BUCKET}, COUNT(*), SUM(step), 0, 0, TOTAL(value),
                   COUNT(*) - COUNT(value), MIN(value), MAX(value)
            FROM metrics WHERE step >= 1 GROUP BY run_id, name, (step - 1) / {BUCKET}"""
    )


def _v3(conn: sqlite3.Connection) -> None:
    # What a person did to a run while it trained (steering, single steps), to mark on its charts.
    conn.execute(
        """CREATE TABLE events (
               run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
               step INTEGER NOT NULL,
               t REAL,                    -- wall-clock time
               kind TEXT NOT NULL,        -- steer, single_step
               text TEXT NOT NULL,        -- what a chart's mark says
               payload TEXT               -- JSON: the values set
           )"""
    )
    conn.execute("CREATE INDEX events_by_run ON events(run_id, step)")


def _v4(conn: sqlite3.Connection) -> None:
    # Several processes on one store: a run's owner beats (its last sign of life), and control
    # requests for a run another process trains wait in the store until that process takes them.
    conn.execute("ALTER TABLE runs ADD COLUMN heartbeat REAL")
    conn.execute(
        """CREATE TABLE controls (
               run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
               action TEXT NOT NULL,      -- stop, pause, resume
               at REAL NOT NULL
           )"""
    )


def _v5(conn: sqlite3.Connection) -> None:
    # Runs started together as a sweep share its id.
    conn.execute("ALTER TABLE runs ADD COLUMN sweep TEXT")


MIGRATIONS = (_v1, _v2, _v3, _v4, _v5)  # step i brings a store from version i to version i + 1
VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the store up to ``VERSION``, one transaction per step; return the version it had."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > VERSION:
        raise RuntimeError(
            f"This run store was written by a newer version of the lab (schema {found}, this lab knows "
            f"{VERSION}). Update the lab, or point LAB_HOME at another folder."
        )
    for version in range(found, VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] == version:  # another process may have done it
                MIGRATIONS[version](conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return found
