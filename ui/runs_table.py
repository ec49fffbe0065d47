"""The runs table: one row per run, picked with Streamlit's own row selection.

Row selections are positions in the table; a new run shifts them. So the ids of the
rows as last drawn are kept, a selection is read back through them, and the chosen
runs are selected again at their current positions on the next draw.
"""

from __future__ import annotations

import time

import streamlit as st

from trainers import VARIANTS
from ui.fmt import fmt_duration, fmt_setting

TABLE_KEY = "runs-table"
IDS_KEY = "runs-table-ids"


def settings_text(variant: str, config: dict) -> str:
    """The settings that tell this run apart (its variant's key settings; every setting if it is unknown)."""
    spec = VARIANTS.get(variant)
    shown = spec.distinguishing(config) if spec else config
    return ", ".join(fmt_setting(k, v) for k, v in shown.items())


def metric_columns(runs: list[dict]) -> list[str]:
    """The headline metrics of the runs' variants, in their declared order: one column each."""
    names: list[str] = []
    for r in runs:
        spec = VARIANTS.get(r["variant"])
        names += [n for n in (spec.headline if spec else ()) if n not in names]
    return names


def setting_columns(runs: list[dict]) -> list[str]:
    """The key settings (as their variants declare them) whose values differ between ``runs``."""
    keys: list[str] = []
    for r in runs:
        spec = VARIANTS.get(r["variant"])
        keys += [k for k in (spec.distinguishing(r["config"]) if spec else r["config"]) if k not in keys]
    return [k for k in keys if len({repr(r["config"].get(k)) for r in runs}) > 1]


def _cell(value):
    """A setting as a table cell: numbers stay numbers (so the column sorts), the rest as text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def run_rows(runs: list[dict], last_values, owner: str | None = None) -> list[dict]:
    """Table rows for ``runs`` (as ``RunManager.list`` gives them); ``last_values(id)`` gives final figures.

    A column per headline metric (its last value) and per key setting that differs between the runs,
    so the table sorts by any of them. With ``owner`` (this browser's visitor hash, private runs only)
    a column says which runs are its own.
    """
    metrics, settings = metric_columns(runs), setting_columns(runs)
    lasts = {r["id"]: last_values(r["id"]) for r in runs} if metrics else {}
    metrics = [n for n in metrics if any(n in last for last in lasts.values())]  # none recorded: no column
    rows = []
    now = time.time()
    for r in runs:
        spec = VARIANTS.get(r["variant"])
        total = r.get("total_steps")
        last = lasts.get(r["id"], {})
        rows.append(
            {
                **({"yours": r.get("visitor") == owner} if owner else {}),
                "name": r.get("name") or r["id"],
                "status": r["status"],
                "progress": min(1.0, r["steps_done"] / total) if total else None,
                "variant": spec.title if spec else r["variant"],
                **{_metric_label(n): last.get(n) for n in metrics},
                **{k: _cell(r["config"].get(k)) for k in settings},
                "sweep": r.get("sweep") or "",
                "steps": r["steps_done"],
                "ms/step": round(r["ms_per_step"], 1) if r.get("ms_per_step") else None,
                "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created"])),
                "age": fmt_duration(now - r["created"]),
                "run": r["id"],
            }
        )
    return rows


def _metric_label(name: str) -> str:
    return name.removeprefix("quality/")


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


def runs_table_ui(rows: list[dict], metrics: list[str] = ()) -> list[str]:
    """Draw the table; return the ids of the selected runs (and keep them in the URL). ``metrics``:
    the headline metrics' columns, drawn as numbers with four significant digits."""
    ids = [row["run"] for row in rows]
    metrics = [n for n in metrics if rows and _metric_label(n) in rows[0]]
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
            "steps": st.column_config.NumberColumn("steps", format="localized"),
            **{
                _metric_label(n): st.column_config.NumberColumn(_metric_label(n), format="%.4g", help=f"last {n}")
                for n in metrics
            },
        },
    )
    if chosen:
        st.query_params["runs"] = ",".join(chosen)
    elif "runs" in st.query_params:
        del st.query_params["runs"]
    if "run" in st.query_params:
        del st.query_params["run"]
    return chosen
