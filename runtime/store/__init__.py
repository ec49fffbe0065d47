"""The run store: one SQLite file (``schema``) that outlives the server. ``writer`` batches what a
training run records; ``run_store.RunStore`` reads runs, events, grids and (``metric_reads``) curves
back; ``readback`` turns a stored run into a ``Snapshot``; ``exports`` writes CSV, JSON, PNG and GIF.
"""

from pathlib import Path

DEFAULT_HOME = Path(__file__).resolve().parents[2] / "runs"  # where runs are kept without LAB_HOME (git-ignored)
