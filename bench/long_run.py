"""Reading a long run back: snapshot rebuild and CSV export of a 1,000,000-step run.

Writes a run of N steps with two per-step metrics (``loss``, ``mae``: 2 N rows) into a
fresh store the way the lab does, then measures, each in a fresh process so one
measurement's memory does not colour the next:

- ``snapshot``: ``snapshot_from_store`` (what a page shows of a finished run);
- ``csv``: streaming the metrics CSV (``exports.metrics_csv_chunks``) to /dev/null;
- ``full read``: reading every row as the previous version did, for contrast.

Time is wall time; "extra memory" is the peak resident set size during the
operation minus the size just before it (sampled every 2 ms).

    python bench/long_run.py [--steps 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from _common import ROOT

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def measure(fn) -> tuple[float, float]:
    """(seconds, peak extra MB) of ``fn()``."""
    base, peak, done = rss(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    started = time.perf_counter()
    fn()
    took = time.perf_counter() - started
    done.set()
    thread.join()
    return took, (max(peak[0], rss()) - base) / 2**20


def build(path: str, steps: int) -> None:
    from runtime.store.run_store import RunStore

    store = RunStore(path)
    started = time.time() - steps * 0.01
    store.create_run(
        "long",
        "compute_loss",
        {"epochs": 1},
        status="completed",
        started=started,
        epochs=1,
        total_steps=steps,
        steps_done=steps,
    )
    writer = store.writer("long", flush_every_s=3600, max_rows=200_000)
    for step in range(1, steps + 1):
        x = 1.0 / (1.0 + step * 1e-4)
        writer.metrics(step, 0, {"loss": x, "mae": x**0.5}, t=started + step * 0.01)
    writer.close()


def child(path: str, what: str) -> None:
    from runtime.store import exports
    from runtime.store.readback import snapshot_from_store
    from runtime.store.run_store import RunStore

    store = RunStore(path)
    store.get_run("long")  # open the connection first: its cost is not the operation's

    def snapshot():
        snap = snapshot_from_store(store, "long")
        assert len(snap.curves["loss"]) <= 2000

    def csv():
        with open(os.devnull, "wb") as sink:
            for chunk in exports.metrics_csv_chunks(store, "long"):
                sink.write(chunk)

    def full_read():
        for name in store.metrics.metric_names("long"):
            store.metrics.curve("long", name)

    took, extra = measure({"snapshot": snapshot, "csv": csv, "full read": full_read}[what])
    print(json.dumps({"what": what, "seconds": took, "extra_mb": extra}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, metavar=("STORE", "WHAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = tempfile.mkdtemp(prefix="bench-long-run-")
    path = os.path.join(folder, "runs.sqlite")
    started = time.perf_counter()
    build(path, args.steps)
    print(
        f"wrote {args.steps:,} steps x 2 metrics in {time.perf_counter() - started:.1f} s "
        f"({os.path.getsize(path) / 2**20:.0f} MB store)"
    )
    results = {}
    for what in ("snapshot", "csv", "full read"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", path, what], capture_output=True, text=True, cwd=ROOT, check=True
        )
        results[what] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{what:>10}: {results[what]['seconds']:.2f} s, +{results[what]['extra_mb']:.0f} MB")
    snap, csv = results["snapshot"], results["csv"]
    print(
        f"SUMMARY long_run steps={args.steps} snapshot_s={snap['seconds']:.2f} "
        f"snapshot_extra_mb={snap['extra_mb']:.0f} "
        f"csv_s={csv['seconds']:.2f} csv_extra_mb={csv['extra_mb']:.0f} "
        f"(targets: snapshot <= 1 s and <= 50 MB, csv <= 50 MB)"
    )


if __name__ == "__main__":
    main()
