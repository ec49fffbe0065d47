"""The runs table: one row per run, picked with Streamlit's own row selection.

Row selections are positions in the table; a new run shifts them. So the ids of the
rows as last drawn are kept, a selection is read back through them, and the chosen
runs are selected again at their current positions on the next draw.
"""

from __future__ import annotations

import time

import streamlit as st

from runtime.status import ACTIVE
from trainers import VARIANTS
from ui.fmt import fmt_duration, fmt_setting

TABLE_KEY = "runs-table"
IDS_KEY = "runs-table-ids"


def settings_text(variant: str, config: dict) -> str:
    """The settings that tell this run apart (its variant's key settings; every setting if it is unknown)."""
    spec = VARIANTS.get(variant)
    shown = spec.distinguishing(config) if spec else config
    return ", ".join(fmt_setting(k, v) for k, v in shown.items())


def final_text(last: dict[str, float], variant: str) -> str:
    spec = VARIANTS.get(variant)
    names = [n for n in (spec.headline if spec else ()) if n in last]
    names += [n for n in last if n.startswith("final/")]
    return ", ".join(f"{n.split('/')[-1]}={last[n]:.4g}" for n in names)


def run_rows(runs: list[dict], last_values, owner: str | None = None) -> list[dict]:
    """Table rows for ``runs`` (as ``RunManager.list`` gives them); ``last_values(id)`` gives final figures.

    With ``owner`` (this browser's visitor hash, private runs only) a column says which runs are its own.
    """
    rows = []
    now = time.time()
    for r in runs:
        spec = VARIANTS.get(r["variant"])
        active = r["status"] in ACTIVE
        total = r.get("total_steps")
        rows.append(
            {
                **({"yours": r.get("visitor") == owner} if owner else {}),
                "name": r.get("name") or r["id"],
                "status": r["status"],
                "progress": (r["steps_done"] / total if total else 0.0) if active else None,
                "variant": spec.title if spec else r["variant"],
                "sweep": r.get("sweep") or "",
                "settings": settings_text(r["variant"], r["config"]),
                "final metrics": "" if active else final_text(last_values(r["id"]), r["variant"]),
                "steps": f"{r['steps_done']:,}/{total:,}" if total else f"{r['steps_done']:,}",
                "ms/step": round(r["ms_per_step"], 1) if r.get("ms_per_step") else None,
                "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created"])),
                "age": fmt_duration(now - r["created"]),
                "run": r["id"],
            }
        )
    return rows


def _chosen_before(ids: list[str]) -> list[str]:
    """The runs selected so far: the table's selection read through the ids it was drawn with,
    or, on a first visit, the URL's ``?runs=a,b`` (or ``?run=a``)."""
    state = st.session_state.get(TABLE_KEY)
    if state is None:
        wanted = (st.query_params.get("runs") or st.query_params.get("run") or "").split(",")
        return [r for r in wanted if r in ids]
    drawn = st.session_state.get(IDS_KEY, [])
    positions = state["selection"]["rows"] if "selection" in state else []
    return [drawn[p] for p in positions if p < len(drawn)]


def runs_table_ui(rows: list[dict]) -> list[str]:
    """Draw the table; return the ids of the selected runs (and keep them in the URL)."""
    ids = [row["run"] for row in rows]
    chosen = [r for r in _chosen_before(ids) if r in ids]
    st.session_state[TABLE_KEY] = {"selection": {"rows": [ids.index(r) for r in chosen], "columns": [], "cells": []}}
    st.session_state[IDS_KEY] = ids
    st.dataframe(
        rows,
        key=TABLE_KEY,
        on_select="rerun",
        selection_mode="multi-row",
        hide_index=True,
        width="stretch",
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
            "name": st.column_config.TextColumn("name", width="large"),
            "run": st.column_config.TextColumn("run id"),
        },
    )
    if chosen:
        st.query_params["runs"] = ",".join(chosen)
    elif "runs" in st.query_params:
        del st.query_params["runs"]
    if "run" in st.query_params:
        del st.query_params["run"]
    return chosen
