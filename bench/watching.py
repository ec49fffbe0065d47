"""What watching a long run costs it when the browser shares the machine, as it does locally.

``streamlit run app.py`` on a laptop or a small server runs the lab and the person's browser on the
same cores. A run's live chart is redrawn once it has a new point to show (every second early on,
every 2 or 4 s later: ``ui/panel.py``, ``chart_seconds``), and each curve holds up to ``MAX_POINTS``
buckets, so each redraw sends and draws that many points per trace. This bench starts
the lab and a GAN run, lets it train unwatched until its curves are long (``--warm`` steps), then
measures its steps per second for ``--window`` seconds with no browser, with one Chromium tab on
its page (same cores, nothing pinned), and with no browser again; it also reports the size of the
chart the page sends on each refresh.

    python bench/watching.py                  # the DCGAN's defaults, warmed to 4,000 steps
    python bench/watching.py --warm 8000 --window 60
    python bench/watching.py --page wgan_gp --warm 3000   # a page with its quality scores drawn too

It also reports the share of a core Chromium's processes took while watching.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import tempfile
import time
from pathlib import Path

from _common import choose_device, device_name

from tests.e2e.helpers import CHROMIUM_ARGS, app_server

PAGE = "dcgan?quality_samples=0"  # the DCGAN's defaults (about 60 ms a step unwatched on two cores), no scores
PLOT_POINTS = """() => { const plot = document.querySelector('.js-plotly-plot');
    let n = 0, traces = 0; if (plot && plot.data) for (const t of plot.data) {
        traces += 1; const x = t.x && (t.x.length !== undefined ? t.x : t.x._inputArray);
        if (x) n += x.length; } return [traces, n]; }"""


def chromium_seconds() -> float:
    """CPU seconds all of Chromium's processes have used so far (Linux /proc)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"chromium" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def run_row(db: Path, run_id: str) -> tuple[int, str]:
    """(steps done, status) as the run's record in the store says."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT steps_done, status FROM runs WHERE id = ?", (run_id,)).fetchone()
    finally:
        conn.close()


def steps_done(db: Path, run_id: str) -> int:
    return run_row(db, run_id)[0]


def rate(db: Path, run_id: str, seconds: float) -> float:
    first = steps_done(db, run_id)
    time.sleep(seconds)
    return (steps_done(db, run_id) - first) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=4000, help="steps the run takes unwatched first")
    parser.add_argument("--window", type=float, default=45.0, help="seconds of each measurement")
    parser.add_argument("--page", default=PAGE, help=f"the page and its settings, as in its URL (default {PAGE})")
    args = parser.parse_args()
    choose_device("cpu")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        home = Path(tmp)
        db = home / "runs.sqlite"
        with app_server(home) as (url, _proc):
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/{args.page}")
            page.get_by_text("The code that runs").wait_for(timeout=90_000)
            time.sleep(2)
            page.get_by_role("button", name=re.compile("Start training")).click()
            page.wait_for_url(re.compile(r"[?&]run=\w+"), timeout=30_000)
            run_id = re.search(r"run=(\w+)", page.url).group(1)
            run_url = page.url
            page.close()  # unwatched from here
            while (row := run_row(db, run_id))[0] < args.warm:
                if (status := row[1]) not in ("queued", "running"):
                    raise SystemExit(f"the run ended ({status}) before {args.warm} steps: ask for fewer (--warm)")
                time.sleep(2)
            alone = rate(db, run_id, args.window)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(run_url)
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            time.sleep(5)  # the page settled (and its charts' pace: the page reruns once it changes)
            at = steps_done(db, run_id)
            cpu = chromium_seconds()
            watched = rate(db, run_id, args.window)
            chromium = (chromium_seconds() - cpu) / args.window
            traces, points = page.evaluate(PLOT_POINTS)
            page.close()
            time.sleep(5)
            again = rate(db, run_id, args.window)
            browser.close()
    print(
        f"SUMMARY watching machine={device_name()!r} page={args.page} warm={args.warm} window={args.window:.0f}s "
        f"at_step={at} chart_traces={traces} chart_points={points} "
        f"steps_per_s alone={alone:.2f} watched={watched:.2f} alone_again={again:.2f} "
        f"watched/alone={watched / ((alone + again) / 2):.2f} chromium_cores_watched={chromium:.2f}"
    )


if __name__ == "__main__":
    main()
