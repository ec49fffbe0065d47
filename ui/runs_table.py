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


MAX_UNDECLARED = 4  # metric columns for runs whose variant declares none (your own step): the first few, in all


def metric_columns(runs: list[dict], lasts: dict[str, dict]) -> list[str]:
    """The headline metrics of the runs' variants, in their declared order: one column each. A variant that
    declares none (your own step: whatever the module reports) shows a few its runs recorded, losses first."""
    names: list[str] = []
    undeclared: list[str] = []
    for r in runs:
        spec = VARIANTS.get(r["variant"])
        if spec and spec.headline:
            names += [n for n in spec.headline if n not in names]
        else:
            undeclared += [n for n in lasts.get(r["id"], {}) if "/" not in n and n not in undeclared]  # no epoch/…
    undeclared = sorted(undeclared, key=lambda n: "loss" not in n)[:MAX_UNDECLARED]
    return names + [n for n in undeclared if n not in names]


def _shown_settings(run: dict) -> tuple[dict, dict]:
    """The settings that tell ``run`` apart, as its variant names them; and every value of its config, those
    nested a level down included (your own step names only the hyperparameters changed from their defaults,
    and keeps them in ``hp``: a column of one it changed reads the others' defaults there)."""
    spec = VARIANTS.get(run["variant"])
    config = run["config"]
    flat = {**config, **{k: v for nested in config.values() if isinstance(nested, dict) for k, v in nested.items()}}
    return (spec.distinguishing(config) if spec else config), flat


FIXED_COLUMNS = ("yours", "name", "status", "progress", "variant", "steered", "sweep", "steps", "ms/step", "started")
FIXED_COLUMNS += ("age", "run")


def setting_columns(shown: list[tuple[dict, dict]]) -> list[str]:
    """The key settings (``_shown_settings`` of each run) whose values differ between the runs."""
    keys: list[str] = []
    for named, _ in shown:
        keys += [k for k in named if k not in keys]
    return [k for k in keys if len({repr(_value(s, k)) for s in shown}) > 1]


def _value(shown: tuple[dict, dict], key: str):
    named, flat = shown
    return named[key] if key in named else flat.get(key)


def _cell(value):
    """A setting as a table cell: numbers stay numbers (so the column sorts), the rest as text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def _steered(events: list[dict]) -> str:
    """The settings changes made to a run while it trained, as its chart's marks say them, with their steps."""
    return "; ".join(f"{e['text']} at step {e['step']:,}" for e in events if e["kind"] == "steer")


def run_rows(runs: list[dict], last_values, owner: str | None = None, events_of=None) -> tuple[list[dict], list[str]]:
    """Table rows for ``runs`` (as ``RunManager.list`` gives them), and their metric columns;
    ``last_values(id)`` gives final figures, ``events_of(id)`` what was done to a run while it trained.

    A column per headline metric (its last value) and per key setting that differs between the runs,
    so the table sorts by any of them; a "steered" column where a run's settings were changed mid-run (its
    name says the settings it started with). With ``owner`` (this browser's visitor hash, private runs only)
    a column says which runs are its own.
    """
    lasts = {r["id"]: last_values(r["id"]) for r in runs}
    metrics = [n for n in metric_columns(runs, lasts) if any(n in last for last in lasts.values())]
    steered = {r["id"]: _steered(events_of(r["id"])) for r in runs} if events_of else {}
    steered = steered if any(steered.values()) else {}
    shown = {r["id"]: _shown_settings(r) for r in runs}
    settings = setting_columns(list(shown.values()))
    taken = {*FIXED_COLUMNS, *(_metric_label(n) for n in metrics)}  # a module's hp may be named "name" or "steps"
    column = {k: f"{k} (setting)" if k in taken else k for k in settings}
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
                **({"steered": steered[r["id"]]} if steered else {}),  # beside the name, which says the start only
                "status": r["status"],
                "progress": min(1.0, r["steps_done"] / total) if total else None,
                "variant": spec.title if spec else r["variant"],
                **{_metric_label(n): last.get(n) for n in metrics},
                **{column[k]: _cell(_value(shown[r["id"]], k)) for k in settings},
                "sweep": r.get("sweep") or "",
                "steps": r["steps_done"],
                "ms/step": round(r["ms_per_step"], 1) if r.get("ms_per_step") else None,
                "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created"])),
                "age": fmt_duration(now - r["created"]),
                "run": r["id"],
            }
        )
    return rows, metrics


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
            "steered": st.column_config.TextColumn("steered", width="large", help="Settings changed while it trained"),
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
