"""Sweep: try two to six values of one or two settings at once, one run each, then compare them.

The runs start together (as the lab's caps allow: they queue for the training slots,
or spread over a Ray cluster) and the page opens the compare view on them, live.
"""

from __future__ import annotations

import streamlit as st

from trainers.config import ParamSpec, parse_value
from ui.fmt import plain
from ui.lab import get_manager
from ui.visitor import client_address, visitor

SWEEPABLE = ("int", "float", "bool", "choice")


def _parse(param: ParamSpec, text: str) -> list:
    values = [part for part in (p.strip() for p in text.split(",")) if part]
    return [parse_value(param, v) for v in values]


STARTED = "sweep-started"  # runs started together, to open side by side once the page has drawn


def open_compare_view(ids: list[str]) -> None:
    """After a callback started several runs (a sweep, a with-and-without): the page opens them in the
    compare view (``sweep_ui`` switches page; a callback itself may not)."""
    st.session_state[STARTED] = ids


def _start(key: str, base: dict, params: dict[str, ParamSpec], prefix: str) -> None:
    grid = {}
    try:
        for slot in ("a", "b"):
            name = st.session_state.get(f"sweep:{key}:{slot}")
            text = st.session_state.get(f"sweep:{key}:{slot}:values", "")
            if name in params:
                grid[f"{prefix}.{name}" if prefix else name] = _parse(params[name], text)
        ids = get_manager().start_sweep(key, base, grid, visitor=visitor(), client=client_address())
    except ValueError as exc:
        st.session_state[f"sweep-error:{key}"] = str(exc)
        return
    open_compare_view(ids)


def sweep_ui(key: str, params: list[ParamSpec], base: dict, prefix: str = "") -> None:
    """The sweep form for variant ``key`` over ``params``, starting from settings ``base``."""
    usable = {p.name: p for p in params if p.kind in SWEEPABLE}
    if not usable:
        return
    with st.expander("Sweep: try several values at once", icon=":material/grid_view:"):
        st.caption("Two to six values for one or two settings, separated by commas: one run per combination.")
        for slot, label in (("a", "Setting"), ("b", "And (optional)")):
            cols = st.columns([1, 2])
            options = list(usable) if slot == "a" else ["—", *usable]
            cols[0].selectbox(label, options, key=f"sweep:{key}:{slot}")
            chosen = st.session_state.get(f"sweep:{key}:{slot}")
            hint = usable[chosen].range_text() if chosen in usable else ""
            cols[1].text_input(
                "Values",
                key=f"sweep:{key}:{slot}:values",
                placeholder="e.g. 1e-4, 3e-4, 1e-3",
                help=f"Each {hint}." if hint else None,
                disabled=chosen not in usable,
            )
        st.button(
            "Start the sweep",
            icon=":material/rocket_launch:",
            key=f"sweep-start:{key}",
            on_click=_start,
            args=(key, base, usable, prefix),
        )
        if problem := st.session_state.pop(f"sweep-error:{key}", None):
            st.error(f"**The sweep was not started.** {plain(problem)}")
    if ids := st.session_state.pop(STARTED, None):
        st.switch_page("pages/runs.py", query_params={"runs": ",".join(ids)})
