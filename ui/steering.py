"""Steer a training run: change its settings from the next batch on; while paused, take single steps.

Drawn for runs whose variant can be steered (``Experiment.steering``), under the same
rule as Stop: with private runs only the starting browser may steer. Its own fragment, so
typing a value is not interrupted by the live charts; not refreshed on a timer (each
refresh of each viewer costs the server, and so training): the live panel redraws the
page when the run pauses or resumes, which is when the single-step buttons change.
"""

from __future__ import annotations

import math

import streamlit as st

from trainers.config import format_value
from ui.fmt import plain
from ui.guard import guarded
from ui.lab import get_manager
from ui.param_widgets import param_widget
from ui.visitor import visitor


def _apply(run_id: str, names: list[str]) -> None:
    manager = get_manager()
    steering = manager.controls.steering(run_id)
    current = steering.current() if steering else {}
    asked = {name: st.session_state[f"steer:{run_id}:{name}"] for name in names}
    changes = {name: value for name, value in asked.items() if not _same(value, current.get(name))}
    if not changes:
        st.session_state[f"steer-note:{run_id}"] = "Nothing to apply: every value is the one the run trains with."
        return
    try:
        done = manager.controls.steer(run_id, changes, visitor=visitor())
    except (ValueError, PermissionError) as exc:
        st.session_state[f"steer-error:{run_id}"] = str(exc)
    else:
        st.session_state[f"steer-note:{run_id}"] = "Applied from the next batch: " + ", ".join(
            f"{k} = {format_value(v)}" for k, v in done.items()
        )


def _same(asked, now) -> bool:
    """Whether a widget's value is the one the run has (a float32 rate read back equals what was typed)."""
    if isinstance(asked, float) and isinstance(now, (int, float)):
        return math.isclose(asked, now, rel_tol=1e-6)
    return list(asked) == list(now) if isinstance(now, tuple) else asked == now


def _single(run_id: str, which: str) -> None:
    try:
        get_manager().controls.single_step(run_id, which, visitor=visitor())
    except (ValueError, PermissionError) as exc:
        st.session_state[f"steer-error:{run_id}"] = str(exc)


@st.fragment
@guarded
def steering_ui(run_id: str) -> None:
    manager = get_manager()
    steering = manager.controls.steering(run_id)
    if steering is None:
        return
    with st.expander("Steer this run while it trains", icon=":material/tune:", expanded=False):
        if not manager.controls.may_control(run_id, visitor()):
            st.caption("Only the browser that started this run can steer it.")
            return
        current = steering.current()
        names = list(steering.knobs)
        wide = [n for n in names if steering.knobs[n].param.kind == "digits"]  # ten pills: a row of their own
        narrow = [n for n in names if n not in wide]
        cols = st.columns(len(narrow) + 1, vertical_alignment="bottom")  # the last one: Apply, or nothing
        places = [*zip(cols, narrow), *((st.container(), name) for name in wide)]
        for place, name in places:
            key = f"steer:{run_id}:{name}"
            if key not in st.session_state:
                st.session_state[key] = list(current[name]) if isinstance(current[name], tuple) else current[name]
            with place:
                param_widget(steering.knobs[name].param, key, help=f"Now: {format_value(current[name])}")
        (st.container() if wide else cols[-1]).button(
            "Apply",
            icon=":material/check:",
            key=f"steer-apply:{run_id}",
            on_click=_apply,
            args=(run_id, names),
            help="The new values take effect at the next batch; the charts mark the change.",
        )
        paused = manager.status(run_id) == "paused"
        st.caption(
            "Single steps (GAN Lab's single-step mode): "
            + ("the run is paused, take one step at a time." if paused else "pause the run to take one step at a time.")
        )
        step_cols = st.columns(len(steering.single_steps))
        for col, (which, single) in zip(step_cols, steering.single_steps.items()):
            col.button(
                single.label,
                key=f"single:{which}:{run_id}",
                on_click=_single,
                args=(run_id, which),
                disabled=not paused,
                help=f"Trains the {' and the '.join(single.networks)} on one fresh batch; the grid and scores follow.",
                width="stretch",
            )
        if note := st.session_state.pop(f"steer-note:{run_id}", None):
            st.success(plain(note), icon=":material/tune:")
        if problem := st.session_state.pop(f"steer-error:{run_id}", None):
            st.error(plain(problem))
