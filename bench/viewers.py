"""Load on loopback: how much do live viewers cost training, and how fresh is what they see?

Starts the lab (``streamlit run app.py``, two training slots), starts two GAN runs,
then measures run A's training speed (steps/s, read from the store) with no browser
watching, and again while N Chromium contexts watch run A's page live. Meanwhile
each viewer notes when each new step first appears on its chart; the delay from the
step's metric being recorded (its time in the store) to it being drawn gives the
latency figures (median, p95).

The viewers' browsers run on people's own machines, not on the lab's server. On a
machine with two or more CPUs the bench gives the server half of them and the browsers
(and this script) the rest, so the slowdown measures what viewers cost the *server*
(snapshots, figures, websocket traffic), not Chromium drawing charts on the same cores.

    python bench/viewers.py                 # 10 viewers, 30 s windows
    python bench/viewers.py --viewers 3 --window 10
    python bench/viewers.py --protocol      # 10 viewers as websocket sessions, no Chromium
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import choose_device

from tests.e2e.helpers import CHROMIUM_ARGS, app_server  # the browser tests' flags: headless, offline, no sandbox

GAN = "num_images=8192&batch_size=16&latent_dim=32&epochs=50&quality_samples=0"
_NEWEST = """const plot = document.querySelector('.js-plotly-plot');
    let best = 0;
    if (plot && plot.data) for (const t of plot.data) {
        const x = t.x && (t.x.length !== undefined ? t.x : t.x._inputArray);
        if (x && x.length) best = Math.max(best, x[x.length - 1]); }"""
LAST_STEP = f"() => {{ {_NEWEST} return best; }}"  # the newest step on the page's first chart
# Notes, inside the page, when each new step first shows on its chart (checked every 20 ms, which
# costs the page microseconds). Polling from here instead would add a Playwright round trip per
# check, competing with the renderers for the same core, to every delay measured.
DRAW_LOG = f"""() => {{ window.__drawn = []; let last = 0;
    setInterval(() => {{ {_NEWEST}
        if (best > last) {{ last = best; window.__drawn.push([best, Date.now() / 1000]); }} }}, 20); }}"""


def split_cpus() -> tuple[set[int], set[int]] | None:
    """(the server's CPUs, the browsers' CPUs), or None on a one-CPU machine."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    half = len(cpus) // 2
    return set(cpus[:half]), set(cpus[half:])


def pin_descendants(cpus: set[int], skip: int | None = None) -> None:
    """Move every process below this one (Playwright's driver, Chromium and its renderers) to ``cpus``;
    renderers started later are forked from these and inherit it. ``skip``: a subtree to leave alone."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo = list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        if pid == skip:
            continue
        try:
            os.sched_setaffinity(pid, cpus)
        except OSError:
            pass
        todo += children.get(pid, [])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steps_per_second(db: Path, run_id: str, seconds: float) -> float:
    """Steps the run took over ``seconds``, as its record in the store says."""
    conn = sqlite3.connect(db)
    first = conn.execute("SELECT steps_done FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    time.sleep(seconds)
    last = conn.execute("SELECT steps_done FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    conn.close()
    return (last - first) / seconds


def recorded_at(db: Path, run_id: str, step: float) -> float | None:
    conn = sqlite3.connect(db)
    row = conn.execute(
        "SELECT t FROM metrics WHERE run_id = ? AND step = ? AND name = 'd_loss'", (run_id, int(round(step)))
    ).fetchone()
    conn.close()
    return row[0] if row else None


def start_run(page, url: str, query: str) -> str:
    page.goto(f"{url}/gan?{query}")
    page.get_by_text("The code that runs").wait_for(timeout=90_000)
    time.sleep(2)
    page.get_by_role("button", name=re.compile("Start training")).click()
    page.wait_for_url(re.compile(r"[?&]run=\w+"), timeout=30_000)
    return re.search(r"run=(\w+)", page.url).group(1)


def measure(viewers: int = 10, window: float = 30.0, port: int = 8691, browser=None, protocol: bool = False) -> dict:
    """The figures; ``browser`` is a Playwright browser to use (a test's), else one is launched;
    ``protocol``: the viewers are websocket sessions (bench/protocol_viewers.py), not browsers."""
    if browser is not None:
        return _measure(browser, viewers, window, port, protocol)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        own = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            return _measure(own, viewers, window, port, protocol)
        finally:
            own.close()


def _watch_browsers(browser, contexts, url, db, run_id, viewers, window, cpu_now):
    """Run A's steps/s while ``viewers`` Chromium contexts watch it; the delays seen, errors, server cores used."""
    contexts += [browser.new_context() for _ in range(viewers)]
    pages = [c.new_page() for c in contexts[1:]]
    for page in pages:  # one after another: ten first loads at once would swamp the browsers' cores
        page.goto(f"{url}/gan?run={run_id}", wait_until="commit", timeout=180_000)
        page.wait_for_function(LAST_STEP, timeout=180_000)
        page.evaluate(DRAW_LOG)  # a fragment's rerun keeps the document, so this keeps running
    time.sleep(5)  # every page refreshing

    conn = sqlite3.connect(db)
    first = conn.execute("SELECT steps_done FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    started_wall, started, cpu = time.time(), time.monotonic(), cpu_now()
    time.sleep(window)
    last = conn.execute("SELECT steps_done FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    conn.close()
    elapsed = time.monotonic() - started
    watched, cores = (last - first) / elapsed, (cpu_now() - cpu) / elapsed
    delays: list[float] = []
    errors: list[str] = []
    for page in pages:
        try:
            drawn = page.evaluate("() => window.__drawn")
        except Exception as exc:  # a page that crashed: say so rather than count nothing silently
            errors.append(repr(exc)[:200])
            continue
        for step, drawn_at in drawn[1:]:  # the first is what the page showed when the log began
            at = recorded_at(db, run_id, step)
            if at is not None and drawn_at >= started_wall:
                delays.append(drawn_at - at)
    return watched, delays, errors, cores


def _watch_protocol(url, db, run_id, viewers, window, cpu_now):
    """The same with websocket sessions that speak Streamlit's protocol and draw nothing."""
    from protocol_viewers import ProtocolViewers

    watchers = ProtocolViewers(url, "gan", f"run={run_id}", viewers)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not all(v.seen for v in watchers.viewers):
            time.sleep(0.5)
        time.sleep(5)  # every session refreshing
        conn = sqlite3.connect(db)
        first = conn.execute("SELECT steps_done FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        started_wall, started, cpu = time.time(), time.monotonic(), cpu_now()
        reruns = sum(v.reruns for v in watchers.viewers)
        time.sleep(window)
        last = conn.execute("SELECT steps_done FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        conn.close()
        elapsed = time.monotonic() - started
        watched, cores = (last - first) / elapsed, (cpu_now() - cpu) / elapsed
        reruns = sum(v.reruns for v in watchers.viewers) - reruns
    finally:
        watchers.close()
    delays = []
    for viewer in watchers.viewers:
        for seen_at, step in viewer.seen[1:]:  # the first is the page's first load
            at = recorded_at(db, run_id, step)
            if at is not None and seen_at >= started_wall:
                delays.append(seen_at - at)
    print(f"{viewers} protocol sessions: {reruns / window:.1f} fragment reruns/s in all", file=sys.stderr)
    return watched, delays, [e for v in watchers.viewers for e in v.errors], cores


def _measure(browser, viewers: int, window: float, port: int, protocol: bool = False) -> dict:
    home = Path(tempfile.mkdtemp(prefix="bench-viewers-"))
    split = split_cpus()
    db = home / "runs.sqlite"
    with app_server(home, port=port, cpus=split[0] if split else None, LAB_MAX_CONCURRENT="2") as (url, server):
        if split:
            pin_descendants(split[1], skip=server.pid)
            os.sched_setaffinity(0, split[1])
        try:
            return _watch(browser, url, db, server, viewers, window, protocol, sorted(split[0]) if split else None)
        finally:
            if split:
                os.sched_setaffinity(0, split[0] | split[1])


def _watch(browser, url, db, server, viewers, window, protocol, server_cpus) -> dict:
    """Two runs started, then watched by ``viewers``: their steps per second and the updates seen."""
    contexts = [browser.new_context()]
    starter = contexts[0].new_page()
    run_a = start_run(starter, url, GAN)
    start_run(starter, url, GAN + "&seed=7")
    starter.goto(f"{url}/")  # nobody watches a run now
    time.sleep(10)  # past the first steps' warm-up
    cpu, started = cpu_seconds(server.pid), time.monotonic()
    alone = steps_per_second(db, run_a, window)
    cpu_alone = (cpu_seconds(server.pid) - cpu) / (time.monotonic() - started)

    starter.close()
    cpu_now = lambda: cpu_seconds(server.pid)  # noqa: E731
    if protocol:
        watched, delays, errors, cpu_watched = _watch_protocol(url, db, run_a, viewers, window, cpu_now)
    else:
        watched, delays, errors, cpu_watched = _watch_browsers(
            browser, contexts, url, db, run_a, viewers, window, cpu_now
        )
    if not delays:
        print(f"no updates seen; errors: {errors[-3:]}", file=sys.stderr)
    for context in contexts:
        context.close()
    delays.sort()
    p95 = delays[int(0.95 * (len(delays) - 1))] if delays else float("nan")
    return {
        "alone": alone,
        "watched": watched,
        "slowdown": 1 - watched / alone if alone else float("nan"),
        "median_delay": statistics.median(delays) if delays else float("nan"),
        "p95_delay": p95,
        "samples": len(delays),
        "server_cores_alone": cpu_alone,
        "server_cores_watched": cpu_watched,
        "server_cpus": server_cpus,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--window", type=float, default=30.0, help="seconds of each measurement")
    parser.add_argument(
        "--protocol", action="store_true", help="viewers as websocket sessions that draw nothing (no Chromium)"
    )
    args = parser.parse_args()
    choose_device("cpu")  # and MNIST from ../shared/data/mnist, as the tests find it
    r = measure(args.viewers, args.window, protocol=args.protocol)
    print(
        f"run A alone: {r['alone']:.2f} steps/s; with {args.viewers} viewers: {r['watched']:.2f} steps/s "
        f"({100 * r['slowdown']:+.1f}% slower)"
    )
    print(
        f"server process: {r['server_cores_alone']:.2f} cores alone, {r['server_cores_watched']:.2f} watched "
        f"({r['server_cores_watched'] - r['server_cores_alone']:+.2f} for {args.viewers} viewers)"
    )
    print(
        f"recorded -> drawn: median {r['median_delay']:.2f} s, p95 {r['p95_delay']:.2f} s over {r['samples']} updates"
    )
    print(
        f"SUMMARY viewers={args.viewers} kind={'protocol' if args.protocol else 'chromium'} "
        f"alone_steps_s={r['alone']:.2f} watched_steps_s={r['watched']:.2f} "
        f"slowdown_pct={100 * r['slowdown']:.1f} p95_delay_s={r['p95_delay']:.2f} "
        f"median_delay_s={r['median_delay']:.2f}"
    )


if __name__ == "__main__":
    main()
