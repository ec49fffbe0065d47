"""One page per training-step variant: settings, Start, the live run, and the step's source."""

from __future__ import annotations

import inspect
import textwrap

import streamlit as st

from trainers import get_variant
from trainers.data import MnistError, MnistNotFoundError, load_mnist
from ui.lab import get_manager
from ui.panel import run_panel
from ui.settings import current_config, settings_ui
from ui.speed import speed_comparison_ui
from ui.visitor import visitor

GUIDE_URL = "https://keras.io/guides/custom_train_step_in_torch/"
NEEDS_MNIST = {"gan"}


def _source(fn) -> str:
    return textwrap.dedent(inspect.getsource(fn))


def _mnist_problem(variant: str, config: dict) -> str | None:
    """Why MNIST cannot be used right now (and how to fix it), or None if it can."""
    if variant not in NEEDS_MNIST and not (variant == "weighted" and config.get("task") == "mnist"):
        return None
    try:
        load_mnist()
    except (MnistNotFoundError, MnistError) as exc:
        return str(exc)
    return None


def _start(key: str) -> None:
    spec = get_variant(key)
    try:
        config = spec.validate(current_config(spec))
        run_id = get_manager().start(key, config, visitor=visitor())
    except ValueError as exc:
        st.session_state[f"start-error:{key}"] = str(exc)
        return
    st.session_state.pop(f"start-error:{key}", None)
    st.query_params["run"] = run_id


def render(key: str) -> None:
    """Draw the page of variant ``key``."""
    spec = get_variant(key)
    st.title(spec.title)
    st.markdown(f"{spec.summary}  \nFrom the Keras guide, section *[{spec.guide_section}]({GUIDE_URL})*.")

    with st.sidebar:
        st.subheader("Settings")
        config, notes = settings_ui(spec)
        problem = _mnist_problem(key, config)
        st.button(
            "Start training",
            icon=":material/play_arrow:",
            type="primary",
            width="stretch",
            key=f"start:{key}",
            on_click=_start,
            args=(key,),
            disabled=problem is not None,
        )
        running, queued = get_manager().active_count()
        st.caption(f"Training now: {running} run(s), {queued} waiting · {get_manager().device}")

    for note in notes:
        st.warning(f"Link setting ignored: {note}", icon=":material/warning:")
    if problem:
        st.error(f"**MNIST is not available, so this run cannot start.** {problem}")
    error = st.session_state.get(f"start-error:{key}")
    if error:
        st.error(f"**The run was not started.** {error}")

    run_id = st.query_params.get("run")
    if run_id:
        snap = get_manager().snapshot(run_id)
        if snap is None:
            st.warning(f"There is no run `{run_id}` here (it may have been deleted). Start a new one.")
        elif snap.variant != key:
            st.info(f"Run `{run_id}` is a run of another variant.")
            st.page_link(f"pages/{snap.variant}.py", label="Open it on its page", query_params={"run": run_id})
        else:
            st.caption("This page's address links to this run: share it and others watch it live.")
            run_panel(run_id)
    else:
        st.info("Choose settings in the sidebar and press **Start training** to watch this step train live.")

    if key == "gan":
        speed_comparison_ui(config["batch_size"])

    with st.expander("The code that runs: " + ", ".join(title for title, _ in spec.code(config))):
        for title, fn in spec.code(config):
            st.markdown(f"`{title}` — from `{fn.__module__}`")
            st.code(_source(fn), language="python")
