"""One page per training-step variant: Start, settings, the live run, and the step's source.

Everything variant-specific comes from its ``VariantSpec``; this module never names a variant.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

import streamlit as st

from trainers import VARIANTS, get_variant
from trainers.config import format_value
from trainers.data import MnistError, MnistNotFoundError, load_mnist
from trainers.registry import VariantSpec
from ui.fmt import code, plain
from ui.lab import get_manager
from ui.navigation import page_of, require_app
from ui.panel import run_panel
from ui.param_widgets import current_config, settings_ui
from ui.sweep import open_compare_view, sweep_ui
from ui.views import page_views
from ui.visitor import client_address, visitor

GUIDE_URL = "https://keras.io/guides/custom_train_step_in_torch/"


def _source(fn) -> str:
    return textwrap.dedent(inspect.getsource(fn))


def _mnist_problem(spec: VariantSpec, config: dict) -> str | None:
    """Why MNIST cannot be used right now (and how to fix it), or None if it can (or is not needed)."""
    if not spec.uses_mnist(config):
        return None
    try:
        load_mnist()
    except (MnistNotFoundError, MnistError) as exc:
        return str(exc)
    return None


def _start(key: str, both: bool = False) -> None:
    """Start a run with the page's settings (``both``: two, with and without the page's contrast, then the
    compare view: ui/sweep.py goes there); a refusal is kept for the page to say."""
    spec = get_variant(key)
    try:
        config = current_config(spec)  # checked once, by the manager (a ValueError says what is wrong)
        if both:
            contrast = spec.contrast
            ids = get_manager().start_sweep(
                key,
                config,
                {contrast.setting: contrast.values},
                visitor=visitor(),
                client=client_address(),
                names=[f"{spec.title}, {name}" for name in contrast.names],
            )
        else:
            run_id = get_manager().start(key, config, visitor=visitor(), client=client_address())
    except ValueError as exc:
        st.session_state[f"start-error:{key}"] = str(exc)
        return
    st.session_state.pop(f"start-error:{key}", None)
    if both:
        open_compare_view(ids)
    else:
        st.query_params["run"] = run_id


def _start_ui(spec: VariantSpec, config: dict, problem: str | None) -> None:
    """The primary action, first in the sidebar: visible without scrolling past the settings."""
    st.button(
        "Start training",
        icon=":material/play_arrow:",
        type="primary",
        width="stretch",
        key=f"start:{spec.key}",
        on_click=_start,
        args=(spec.key,),
        disabled=problem is not None,
        help="Starts a run with the settings below; it trains in the background.",
    )
    contrast = spec.contrast
    if contrast is not None and contrast.when(config):
        st.button(
            contrast.button,
            icon=":material/compare_arrows:",
            width="stretch",
            key=f"start-both:{spec.key}",
            on_click=_start,
            args=(spec.key, True),
            disabled=problem is not None,
            help="Two runs with the settings below, "
            + " and ".join(f"{contrast.setting}={format_value(value)}" for value in contrast.values)
            + ", opened side by side with their figures in one "
            "table (one after the other where the lab trains one run at a time).",
        )
    running, queued = get_manager().active_count()
    st.caption(f"Training now: {running} run(s), {queued} waiting · {get_manager().device}")


ROOT = Path(__file__).resolve().parents[1]


def _preset(settings: dict) -> None:
    """Put a preset's settings in the address: the sidebar's widgets take them from there (ui/param_widgets.py)."""
    for name, value in settings.items():
        st.query_params[name] = format_value(value)


def _expectation(spec: VariantSpec) -> None:
    """Before the first run: what a run with the defaults will show, and how long it takes here (benchmarks)."""
    if not spec.expect:
        return
    with st.container(border=True):
        st.markdown(f"**What to expect**  \n{spec.expect}")
        for i, (label, settings) in enumerate(spec.presets):
            st.button(label, icon=":material/bolt:", key=f"preset:{spec.key}:{i}", on_click=_preset, args=(settings,))
        picture = ROOT / spec.expect_picture if spec.expect_picture else None
        if picture is not None and picture.is_file():
            st.image(str(picture), output_format="PNG", width=720)


def render(key: str) -> None:
    """Draw the page of variant ``key``."""
    require_app()
    spec = get_variant(key)
    st.title(spec.title)
    source = f"From the Keras guide, section *[{spec.guide_section}]({GUIDE_URL})*." if spec.guide_section else ""
    st.markdown(f"{spec.summary}  \n{source}")

    with st.sidebar:
        start_slot = st.container()  # filled once the settings (and so the data needed) are known
        st.subheader("Settings")
        config, notes = settings_ui(spec)
        problem = _mnist_problem(spec, config)
        with start_slot:
            _start_ui(spec, config, problem)

    for note in notes:
        st.warning(f"Link setting ignored: {plain(note)}", icon=":material/warning:")
    if problem:
        st.error(f"**MNIST is not available, so this run cannot start.** {plain(problem)}")
    error = st.session_state.get(f"start-error:{key}")
    if error:
        st.error(f"**The run was not started.** {plain(error)}")

    run_id = st.query_params.get("run")
    if run_id:
        snap = get_manager().snapshot(run_id)
        if snap is None:
            st.warning(f"There is no run {code(run_id)} here (it may have been deleted). Start a new one.")
        elif snap.variant != key:
            st.info(f"Run {code(run_id)} is a run of another variant.")
            if snap.variant in VARIANTS:
                st.page_link(page_of(snap.variant), label="Open it on its page", query_params={"run": run_id})
            else:
                st.caption(
                    "Its variant is not offered by this lab any more: the Runs page still shows what it recorded."
                )
        else:
            st.caption("This page's address links to this run: share it and others watch it live.")
            run_panel(run_id)
    else:
        st.info("Choose settings in the sidebar and press **Start training** to watch this step train live.")
        _expectation(spec)

    sweep_ui(key, list(spec.params), config)
    page_views(spec, config)

    functions = spec.code_listing(config)
    with st.expander("The code that runs: " + ", ".join(title for title, _ in functions)):
        for title, fn in functions:
            st.markdown(f"`{title}` — from `{fn.__module__}`")
            st.code(_source(fn), language="python")
