"""The runs page: every run in a table; open one (curves, grids, exports, delete) or compare several."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from runtime import exports
from runtime.access import visitor_hash
from runtime.status import ACTIVE
from trainers import VARIANTS
from ui import charts
from ui.lab import get_manager
from ui.navigation import require_app
from ui.panel import run_panel
from ui.runs_table import run_rows
from ui.visitor import visitor

SELECT_KEY = "runs-selected"


def _label(row: dict) -> str:
    spec = VARIANTS.get(row["variant"])
    return f"{row['id']} · {spec.title if spec else row['variant']} · {row['status']}"


def _selection(runs: list[dict]) -> list[str]:
    """Runs chosen in the multiselect; seeded once from the URL (?run=a or ?runs=a,b)."""
    known = {r["id"] for r in runs}
    if SELECT_KEY not in st.session_state:
        wanted = (st.query_params.get("runs") or st.query_params.get("run") or "").split(",")
        st.session_state[SELECT_KEY] = [r for r in wanted if r in known]
    else:
        st.session_state[SELECT_KEY] = [r for r in st.session_state[SELECT_KEY] if r in known]
    labels = {r["id"]: _label(r) for r in runs}
    chosen = st.multiselect(
        "Open a run, or pick several to compare",
        list(labels),
        key=SELECT_KEY,
        format_func=labels.get,
        placeholder="Choose runs",
    )
    if chosen:
        st.query_params["runs"] = ",".join(chosen)
    elif "runs" in st.query_params:
        del st.query_params["runs"]
    if "run" in st.query_params:
        del st.query_params["run"]
    return chosen


def _exports(run_id: str) -> None:
    """Download buttons; each file is made only when its button is clicked (Streamlit runs the callable)."""
    store = get_manager().store
    run = store.get_run(run_id)
    has_grids = store.grid(run_id) is not None
    artifact = Path(run["artifact"]) if run and run.get("artifact") else None
    files = [
        ("Metrics (CSV)", lambda: exports.metrics_csv(store, run_id), "metrics.csv", "text/csv", "table_view"),
        ("Config (JSON)", lambda: exports.config_json(store, run_id), "config.json", "application/json", "data_object"),
    ]
    if has_grids:
        files += [
            ("Last grid (PNG)", lambda: exports.last_grid_png(store, run_id), "grid.png", "image/png", "image"),
            ("Evolution (GIF)", lambda: exports.grid_gif(store, run_id), "evolution.gif", "image/gif", "animation"),
        ]
    if artifact is not None and artifact.is_file():
        files.append(
            ("Model (.keras)", artifact.read_bytes, "model.keras", "application/octet-stream", "deployed_code")
        )
    cols = st.columns(len(files) + (1 if run and run["status"] in ACTIVE else 0))
    for col, (label, make, suffix, mime, icon) in zip(cols, files):
        col.download_button(
            label,
            make,
            f"{run_id}-{suffix}",
            mime,
            key=f"dl:{suffix}:{run_id}",
            # No rerun on click: a rerun re-registers every deferred file under a new id, so a
            # click on a second button while that rerun is under way would fetch a revoked id.
            on_click="ignore",
            icon=f":material/{icon}:",
            width="stretch",
        )
    if len(cols) > len(files):
        cols[-1].caption("The model is saved when the run ends.")


def _confirm_delete(run_id: str) -> None:
    """Button callback: runs before the rerun, so the selection can still be changed."""
    st.session_state.pop(f"confirm-delete:{run_id}", None)
    try:
        get_manager().delete(run_id, visitor=visitor())
    except (ValueError, PermissionError) as exc:
        st.session_state["delete-error"] = str(exc)
        return
    st.session_state[SELECT_KEY] = [r for r in st.session_state.get(SELECT_KEY, []) if r != run_id]
    st.session_state["deleted"] = run_id


def _delete(run_id: str) -> None:
    if not get_manager().may_control(run_id, visitor()):
        st.caption(":material/lock: Started in another browser: only that browser can delete this run.")
        return
    asked = f"confirm-delete:{run_id}"
    if not st.session_state.get(asked):
        st.button(
            "Delete this run…",
            key=f"delete:{run_id}",
            icon=":material/delete:",
            on_click=st.session_state.__setitem__,
            args=(asked, True),
        )
        return
    st.warning(f"Delete run `{run_id}`: its curves, grids and saved model? This cannot be undone.")
    cols = st.columns([1, 1, 4])
    cols[0].button("Yes, delete", key=f"delete-yes:{run_id}", type="primary", on_click=_confirm_delete, args=(run_id,))
    cols[1].button("Cancel", key=f"delete-no:{run_id}", on_click=st.session_state.pop, args=(asked, None))


def _compare(run_ids: list[str]) -> None:
    manager = get_manager()
    snaps = [s for s in (manager.snapshot(r) for r in run_ids) if s is not None]
    rows = [manager.store.get_run(s.id) for s in snaps]
    labels = [f"{s.id} ({VARIANTS[s.variant].title if s.variant in VARIANTS else s.variant})" for s in snaps]
    st.subheader(f"Comparing {len(snaps)} runs")
    smoothing = st.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="compare-smoothing")
    fig = charts.compare_figure([(label, s.curves) for label, s in zip(labels, snaps)], smoothing)
    st.plotly_chart(fig, width="stretch", key="compare-chart", config={"displaylogo": False})

    st.markdown("**Settings that differ**")
    differing = exports.differing_settings(rows)
    if differing:
        st.dataframe(
            {
                "setting": list(differing),
                **{lab: [str(v[i]) for v in differing.values()] for i, lab in enumerate(labels)},
            },
            hide_index=True,
        )
    else:
        st.caption("These runs have identical settings.")

    st.markdown("**Final metrics**")
    finals = [manager.store.last_values(s.id) for s in snaps]
    names = sorted({n for f in finals for n in f if not n.startswith("epoch/class_acc")})
    st.dataframe(
        {"metric": names, **{lab: [f.get(n) for n in names] for lab, f in zip(labels, finals)}}, hide_index=True
    )

    grids = [(lab, s) for lab, s in zip(labels, snaps) if s.grid_png]
    if grids:
        st.markdown("**Last sample grids**")
        cols = st.columns(len(grids))
        for col, (lab, s) in zip(cols, grids):
            col.image(s.grid_png, caption=f"{lab}, step {s.grid_step:,}", output_format="PNG", width="stretch")


def render() -> None:
    require_app()
    manager = get_manager()
    st.title("Runs")
    if st.session_state.get("deleted"):
        st.success(f"Run `{st.session_state.pop('deleted')}` was deleted, with its curves, grids and model.")
    if st.session_state.get("delete-error"):
        st.error(st.session_state.pop("delete-error"))
    runs = manager.list(limit=500)
    if not runs:
        st.info("No runs yet. Open a training step and press Start.")
        return
    owner = visitor_hash(visitor()) if manager.private_runs else None
    st.dataframe(run_rows(runs, manager.store.last_values, owner), hide_index=True, width="stretch", key="runs-table")
    chosen = _selection(runs)
    if len(chosen) == 1:
        st.divider()
        run_panel(chosen[0])
        st.markdown("**Take it away**")
        _exports(chosen[0])
        _delete(chosen[0])
    elif len(chosen) > 1:
        st.divider()
        _compare(chosen)
