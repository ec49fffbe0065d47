"""The run panel: status, progress, controls, live curves and sample grids of one run.

While the run is active its status and progress are an ``st.fragment`` rerun every second
that reads a bounded snapshot from the run manager; the training thread never touches
Streamlit. The charts and samples are redrawn once the chart has a new point to show
(``chart_seconds``): with the status while that is every second, in a fragment of their
own rerun every 2 or 4 s once a long run adds points more slowly. The views under them
(quality scores, epoch figures) change every half minute or epoch: a fragment rerun every
4 s. Redrawing everything every second cost a long run a third of its speed or more when
the browser shared the lab's two cores (``bench/watching.py``). A person can freeze the
updates to zoom into a chart (Streamlit redraws a chart, and so resets its zoom, whenever
its data changes).
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import streamlit as st

from runtime.record.curves import width_for
from runtime.record.snapshot import Snapshot
from trainers import VARIANTS
from ui import charts, figure_cache
from ui.chart_controls import chart_options_ui
from ui.chart_math import ChartOptions
from ui.fmt import STATUS_ICONS, code, fmt_duration, fmt_number, plain
from ui.guard import guarded
from ui.lab import get_manager
from ui.steering import steering_ui
from ui.views import run_views
from ui.visitor import visitor

REFRESH_SECONDS = 1.0  # the status and progress; the charts: chart_seconds
CHART_SECONDS_MAX = 4.0
# The views under the charts: a quality score comes every half minute or so, an epoch's figures each epoch.
VIEWS_SECONDS = 4.0
# Stop's button waits this long for the run to end (its batch, its model saved), so the page
# says "Stopped" straight away instead of one refresh later; a longer batch shows "stop requested".
STOP_WAIT_SECONDS = 2.0


def status_line(snap: Snapshot) -> str:
    icon = STATUS_ICONS.get(snap.status, "")
    text = f"{icon} **{snap.status.capitalize()}**"
    if snap.status == "queued" and snap.queue_position:
        text += f" — number {snap.queue_position} in line; it starts when a training slot frees up"
    if snap.status == "paused":
        text += " — training is holding at the end of a batch"
    if snap.stop_requested:
        waited = time.time() - snap.stop_requested
        text += f" — **stop requested** {fmt_duration(waited)} ago; it stops when the current batch ends"
        if waited > 10:
            text += ". A train_step that never returns cannot be interrupted from here: restart the server to end it"
    return text


def _act(action: str, run_id: str, **options) -> None:
    """Button callback: stop, pause or resume on behalf of this browser."""
    try:
        getattr(get_manager().controls, action)(run_id, visitor=visitor(), **options)
    except PermissionError as exc:
        st.session_state[f"control-error:{run_id}"] = str(exc)


def _controls(run_id: str, snap: Snapshot) -> None:
    if not snap.active:
        return
    if problem := st.session_state.pop(f"control-error:{run_id}", None):
        st.warning(plain(problem), icon=":material/visibility:")
    if not get_manager().controls.may_control(run_id, visitor()):
        st.caption(
            ":material/visibility: You are watching a run started in another browser: only that browser can "
            "stop or pause it."
        )
        return
    row = st.container(horizontal=True)  # one block, not three columns: rebuilt every second per viewer
    row.button(
        "Stop",
        icon=":material/stop:",
        key=f"stop:{run_id}",
        on_click=_act,
        args=("stop", run_id),
        kwargs={"wait": STOP_WAIT_SECONDS},
        help="Stops after the current batch and saves the model.",
    )
    paused = snap.status == "paused"
    row.button(
        "Resume" if paused else "Pause",
        icon=":material/play_arrow:" if paused else ":material/pause:",
        key=f"{'resume' if paused else 'pause'}:{run_id}",
        on_click=_act,
        args=("resume" if paused else "pause", run_id),
    )


def current_epoch(snap: Snapshot) -> int:
    """The epoch the run's latest step belongs to (1-based): the same number while it trains and after a
    Stop mid-epoch; else, where the epoch's length is unknown, the epochs done (+1 while training)."""
    if snap.steps_per_epoch and snap.step:
        return min(math.ceil(snap.step / snap.steps_per_epoch), snap.epochs or math.inf)
    return snap.epoch + (1 if snap.active and snap.status != "queued" and snap.epoch < (snap.epochs or 0) else 0)


def _progress(snap: Snapshot) -> None:
    current = current_epoch(snap)
    epochs = f"epoch {current}/{snap.epochs}" if snap.epochs else "epoch –"
    steps = f"step {snap.step:,}/{snap.total_steps:,}" if snap.total_steps else f"step {snap.step:,}"
    st.progress(snap.progress, text=f"{epochs} · {steps}")
    took = (snap.ended or 0) - (snap.started or 0) if snap.started and not snap.active else None
    if snap.active:
        steps_per_s, samples_per_s, pace = snap.steps_per_s, snap.samples_per_s, "Recent pace, everything included."
    else:  # a finished run: its average, from start to end (building the model and saving it included)
        steps_per_s = snap.step / took if took and snap.step else None
        samples_per_s = steps_per_s * snap.batch_size if steps_per_s and snap.batch_size else None
        pace = "Average over the whole run, from start to end (building and saving the model included)."
    row = st.container(horizontal=True)  # one block, not four columns: rebuilt every second per viewer
    row.metric("Steps/s", fmt_number(steps_per_s), help=pace)
    row.metric("Samples/s", fmt_number(samples_per_s), help=pace)
    row.metric(
        "ms per train step",
        fmt_number(snap.ms_per_step),
        help="Mean time inside train_step after warm-up (data loading and callbacks excluded).",
    )
    row.metric("ETA" if snap.active else "Took", fmt_duration(snap.eta_s if snap.active else took))


def error_line(snap: Snapshot) -> int | None:
    """The line of a person's own code a failure names ("... (line 12, in train_step)"), if it names one."""
    found = re.search(r"\(line (\d+), in [^)]*\)\s*$|^Line (\d+) ", snap.error or "")
    return int(found.group(1) or found.group(2)) if found else None


def _advice(snap: Snapshot) -> str:
    error = snap.error or ""
    if "MNIST" in error:
        return "Provide MNIST (see the home page) and start again."
    if (line := error_line(snap)) is not None:
        return f"The bug is in your code, at line {line} (marked in the editor): fix it and start again."
    if "out of memory" in error:
        return "Start again with smaller settings."
    return "Check the settings and start again; the details are below."


def _problem(snap: Snapshot) -> None:
    if snap.status == "failed":
        st.error(f"**This run failed.** {plain(snap.error)}\n\n{_advice(snap)}")
        if snap.traceback:
            with st.expander("Technical details (traceback)"):
                st.code(snap.traceback, language="text")
    elif snap.status == "diverged":
        st.error(f"**Training diverged.** {plain(snap.error)}")
    elif snap.status == "interrupted":
        st.warning(f"**Interrupted.** {plain(snap.error)} Start a new run to continue experimenting.")


def _grid(run_id: str, snap: Snapshot, caption: str) -> None:
    if snap.grid_png is None:
        st.info("The first samples appear as soon as training starts.")
        return
    st.image(
        snap.grid_png,
        caption=f"{caption}, step {snap.grid_step:,}",
        output_format="PNG",
        width="stretch",
    )
    if len(snap.grid_steps) < 2:
        return
    # A step slider, not a list of grid steps: its range only grows while the run goes
    # on, so the chosen value stays valid from one refresh to the next.
    step = st.slider(
        "Look back: grid at step",
        0,
        int(snap.grid_steps[-1]),
        0,
        key=f"scrub:{run_id}",
        help="Shows the last grid drawn at or before this step (0: none, only the latest above).",
    )
    if not step:
        return  # nothing to look back at: no second image, no store lookup, every second
    found = get_manager().grid(run_id, step)
    if found:
        when = f"step {found[0]:,}" if found[0] == step else f"step {found[0]:,}, the last drawn by step {step:,}"
        st.image(found[1], caption=when, output_format="PNG", width="stretch")


def chart_seconds(snap: Snapshot, current: float | None = None) -> float:
    """How often a live run's charts are redrawn: once there is a new point to show, 1 to 4 s.

    A curve holds ``width_for(step)``-step buckets (``runtime/record/curves.py``), so a new point takes
    that many steps. Powers of two (1, 2, 4 s), so that the interval changes a few times a run (each
    change redraws the whole page); from ``current`` it goes down only once two points come in half
    of it, so that the faster training a slower redraw brings does not swing it back and forth.
    """
    if not snap.steps_per_s or snap.steps_per_s <= 0:
        return REFRESH_SECONDS
    seconds = width_for(snap.step) / snap.steps_per_s
    every = min(CHART_SECONDS_MAX, max(REFRESH_SECONDS, 2.0 ** math.ceil(math.log2(max(seconds, 1e-9)))))
    if current is not None and every < current and seconds > current / 4:
        return current
    return every


def draw(run_id: str, snap: Snapshot, options: ChartOptions) -> None:
    """Everything about one run, from a snapshot; ``options``: how its charts are drawn (chosen above it)."""
    draw_head(run_id, snap)
    draw_charts(run_id, snap, options)
    draw_views(snap)


def draw_head(run_id: str, snap: Snapshot) -> None:
    """The run's status, its controls, what went wrong (if anything) and its progress."""
    spec = VARIANTS.get(snap.variant)
    head = st.columns([3, 2])
    head[0].markdown(status_line(snap))
    what = spec.title if spec else plain(snap.name or snap.variant)
    head[1].caption(f"Run {code(run_id)} · {what} · {plain(snap.device or '')}")
    _controls(run_id, snap)
    _problem(snap)
    _progress(snap)


def draw_charts(run_id: str, snap: Snapshot, options: ChartOptions) -> None:
    """The run's curves and its samples."""
    spec = VARIANTS.get(snap.variant)
    # A grid column for runs that draw samples (a module of your own may or may not).
    if snap.grid_png is not None or (spec is not None and spec.produces_images and snap.step == 0):
        left, right = st.columns([3, 2])
    else:
        left, right = st.container(), None
    with left:
        per_step = {n: c for n, c in snap.curves.items() if not n.startswith("quality/")}
        if any(len(c) for c in per_step.values()):
            fig = figure_cache.shared(
                ("curves", run_id, snap.version, snap.status, options),
                lambda: charts.curves_figure(
                    per_step,
                    snap.epoch_steps,
                    snap.epoch_curves,
                    options,
                    total_steps=snap.total_steps,
                    batch_size=snap.batch_size,
                    events=[(step, text) for step, _, text in snap.events],
                    panels=spec.panels if spec else (),
                ),
            )
            st.plotly_chart(fig, width="stretch", key=f"curves:{run_id}", config={"displaylogo": False})
        elif snap.active:
            st.info("Curves appear after the first training step.")
        else:
            st.caption("No curves: the run ended before its first training step.")
    if right is not None:
        with right:
            _grid(run_id, snap, (spec.grid_caption if spec else "") or "Samples")


def draw_views(snap: Snapshot) -> None:
    """The views the run's variant declares (quality scores, recall by digit, epoch tables)."""
    if (spec := VARIANTS.get(snap.variant)) is not None:
        run_views(spec, snap)


def _current(run_id: str) -> Snapshot | None:
    """The run now; None, with a note, if it no longer exists."""
    snap = get_manager().snapshot(run_id)
    if snap is None:
        st.info("This run no longer exists (it was deleted, perhaps in another tab).")
    return snap


@guarded
def _live(run_id: str, options: ChartOptions, chart_every: float) -> None:
    """A live run's status and progress, every second; its charts too while they are redrawn as often."""
    if (snap := _current(run_id)) is None:
        return
    draw_head(run_id, snap)
    if chart_every == REFRESH_SECONDS:
        draw_charts(run_id, snap, options)
    # What the rest of the page (the steering panel, the charts' own fragment: neither rerun every second)
    # depends on: a change redraws the whole page.
    state = (snap.status, get_manager().controls.steering(run_id) is not None)
    seen_key = f"page-state:{run_id}"
    seen, st.session_state[seen_key] = st.session_state.get(seen_key), state
    if not snap.active:
        time.sleep(0.2)
        st.rerun()  # the run ended: redraw once as a still page, and stop polling
    elif seen is not None and seen != state:
        st.rerun()  # started, paused, resumed, steerable: redraw the page (the steering panel follows)
    elif chart_seconds(snap, chart_every) != chart_every:
        st.rerun()  # the charts' pace changed: their fragment is set up anew


@guarded
def _live_charts(run_id: str, options: ChartOptions) -> None:
    snap = get_manager().snapshot(run_id)
    if snap is not None:
        draw_charts(run_id, snap, options)


@guarded
def _live_views(run_id: str) -> None:
    snap = get_manager().snapshot(run_id)
    if snap is not None:
        draw_views(snap)


@st.fragment
@guarded
def _still_fragment(run_id: str, options: ChartOptions) -> None:
    if (snap := _current(run_id)) is None:
        return
    draw(run_id, snap, options)


def run_panel(run_id: str) -> bool:
    """Draw the run ``run_id`` (live while active). Return False if there is no such run."""
    snap = get_manager().snapshot(run_id)
    if snap is None:
        return False
    frozen = False
    # The chart options live outside the live fragment: every widget in it is rebuilt and sent to
    # every viewer each second, which is what viewers cost the server (bench/viewers.py).
    has_time = snap.active or any(np.isfinite(c.times).any() for c in snap.curves.values())
    options = chart_options_ui(run_id, has_time, extra="Freeze" if snap.active else None)
    if snap.active:
        frozen = st.session_state.get(f"freeze:{run_id}", False)
    if snap.active and not frozen:
        every = chart_seconds(snap, st.session_state.get(f"chart-every:{run_id}"))
        st.session_state[f"chart-every:{run_id}"] = every
        st.fragment(_live, run_every=REFRESH_SECONDS)(run_id, options, every)
        if every != REFRESH_SECONDS:  # a long run: its charts get a fragment of their own, rerun less often
            st.fragment(_live_charts, run_every=every)(run_id, options)
        if (spec := VARIANTS.get(snap.variant)) is not None and (spec.run_views or spec.watch_for):
            st.fragment(_live_views, run_every=VIEWS_SECONDS)(run_id)
    else:
        if frozen:
            st.caption("Updates frozen — training continues in the background. Untoggle to catch up.")
        _still_fragment(run_id, options)
    if snap.active:
        steering_ui(run_id)
    return True
