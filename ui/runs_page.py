"""The runs page: every run in a table; pick one to see it, several to compare them."""

from __future__ import annotations

import streamlit as st

from ui.lab import get_manager
from ui.panel import run_panel
from ui.runs_table import run_rows


def render() -> None:
    manager = get_manager()
    st.title("Runs")
    runs = manager.list(limit=500)
    if not runs:
        st.info("No runs yet. Open a training step and press Start.")
        return
    rows = run_rows(runs, manager.store.last_values)
    st.caption("Select a row to open a run.")
    event = st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key="runs-table",
        column_config={"run": st.column_config.TextColumn(width="small")},
    )
    chosen = [rows[i]["run"] for i in event.selection.rows] if event and event.selection else []
    if not chosen and st.query_params.get("run") in {r["id"] for r in runs}:
        chosen = [st.query_params["run"]]
    if len(chosen) == 1:
        st.divider()
        run_panel(chosen[0])
