"""The runs page: every run in a table; open one (curves, grids, exports, delete) or compare several."""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import streamlit as st

from runtime.record.naming import MAX_NAME, MAX_NOTES
from runtime.record.status import ACTIVE
from runtime.serving.access import visitor_hash
from runtime.serving.sweeps import MAX_SETTINGS, MAX_VALUES
from runtime.store import exports
from trainers import VARIANTS
from trainers.config import format_value
from trainers.quality import REFERENCE, is_breakdown
from ui import charts
from ui.chart_controls import chart_options_ui
from ui.fmt import code, plain
from ui.lab import get_manager
from ui.navigation import require_app
from ui.panel import run_panel
from ui.runs_table import run_rows, runs_table_ui
from ui.server import csv_url
from ui.visitor import visitor

# Material Symbols' "table" (the buttons beside it carry Material icons), as a CSS mask in the link's colour: st.html
# keeps a <style> but strips an inline <svg>.
_TABLE_ICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 -960 960 960'%3E%3Cpath d='M120-200v-560"
    "h720v560H120Zm80-400h560v-80H200v80Zm173 173h214v-93H373v93Zm0 173h214v-93H373v93ZM200-427h93v-93h-93v93Zm467 0"
    "h93v-93h-93v93ZM200-280h93v-67h-93v67Zm467 0h93v-67h-93v67Z'/%3E%3C/svg%3E"
)

MAX_COMPARED = MAX_VALUES**MAX_SETTINGS  # the largest sweep, opened here whole; a link may name any ids


def _exports(run_id: str) -> None:
    """Download buttons; each file is made only when its button is clicked (Streamlit runs the callable)."""
    store = get_manager().store
    run = store.get_run(run_id)
    has_grids = store.grid(run_id) is not None
    artifact = Path(run["artifact"]) if run and run.get("artifact") else None
    files = [
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
    cols = st.columns(1 + len(files) + (1 if run and run["status"] in ACTIVE else 0))
    # The CSV streams from the lab's own route (ui/server.py): a long run's file is never held in memory.
    cols[0].html(
        f'<a class="lab-download" href="{csv_url(run_id)}" download="{run_id}-metrics.csv">Metrics (CSV)</a>'
        f'<style>.lab-download::before{{content:"";width:16px;height:16px;background:currentColor;'
        f'-webkit-mask:url("{_TABLE_ICON}") center/contain no-repeat;mask:url("{_TABLE_ICON}") center/contain '
        "no-repeat}</style>"
        "<style>.lab-download{display:flex;align-items:center;justify-content:center;gap:.5rem;min-height:2.5rem;"
        "box-sizing:border-box;padding:.25rem .75rem;border:1px solid #d0d3d9;border-radius:.5rem;color:inherit;"
        "text-decoration:none;font-size:.875rem}.lab-download:hover{border-color:#D00000;color:#D00000}</style>"
    )
    for col, (label, make, suffix, mime, icon) in zip(cols[1:], files):
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
    if len(cols) > len(files) + 1:
        cols[-1].caption("The model is saved when the run ends.")


def _confirm_delete(run_id: str) -> None:
    """Button callback: runs before the rerun, so the selection can still be changed."""
    st.session_state.pop(f"confirm-delete:{run_id}", None)
    try:
        get_manager().controls.delete(run_id, visitor=visitor())
    except (ValueError, PermissionError) as exc:
        st.session_state["delete-error"] = str(exc)
        return
    st.session_state["deleted"] = run_id


def _delete(run_id: str) -> None:
    if not get_manager().controls.may_control(run_id, visitor()):
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
    st.warning(f"Delete run {code(run_id)}: its curves, grids and saved model? This cannot be undone.")
    cols = st.columns([1, 1, 4])
    cols[0].button("Yes, delete", key=f"delete-yes:{run_id}", type="primary", on_click=_confirm_delete, args=(run_id,))
    cols[1].button("Cancel", key=f"delete-no:{run_id}", on_click=st.session_state.pop, args=(asked, None))


def _save_name(run_id: str) -> None:
    """Button callback: store the name and notes typed for ``run_id``."""
    try:
        get_manager().controls.rename(
            run_id, st.session_state[f"name:{run_id}"], st.session_state[f"notes:{run_id}"], visitor=visitor()
        )
    except (ValueError, PermissionError) as exc:
        st.session_state[f"name-error:{run_id}"] = str(exc)
    else:
        st.toast("Name and notes saved.", icon=":material/save:")


def _name_and_notes(run_id: str) -> None:
    """Rename a run and keep notes on it (its owner only, with private runs)."""
    manager = get_manager()
    snap = manager.snapshot(run_id)
    if snap is None:
        return
    if not manager.controls.may_control(run_id, visitor()):
        if snap.notes:
            st.caption(f"Notes: {plain(snap.notes)}")
        return
    cols = st.columns([2, 3, 1], vertical_alignment="bottom")
    cols[0].text_input("Name", value=snap.name or run_id, max_chars=MAX_NAME, key=f"name:{run_id}")
    cols[1].text_area("Notes", value=snap.notes or "", height=68, max_chars=MAX_NOTES, key=f"notes:{run_id}")
    cols[2].button("Save", icon=":material/save:", key=f"save-name:{run_id}", on_click=_save_name, args=(run_id,))
    if problem := st.session_state.pop(f"name-error:{run_id}", None):
        st.error(plain(problem))


def _shared_grids(snaps: list) -> None:
    """The runs' sample grids side by side, at one step chosen with one slider (as W&B's media panels)."""
    shown = [s for s in snaps if s.grid_steps]
    if not shown:
        return
    st.markdown("**Sample grids at the same step**")
    last = max(int(s.grid_steps[-1]) for s in shown)
    if last > 0:  # a slider needs a range: runs that have only drawn their step-0 grid get none
        step = st.slider("Step", 0, last, last, key="compare-grid-step", help="Each run's last grid at or before it.")
    else:
        step = 0
    cols = st.columns(len(shown))
    for col, snap in zip(cols, shown):
        found = get_manager().grid(snap.id, step)
        if found:
            col.image(found[1], caption=f"{plain(snap.name)}, step {found[0]:,}", output_format="PNG", width="stretch")
        else:
            col.caption(f"{plain(snap.name)}: no grid yet at step {step:,}.")


def _code(snap) -> None:
    """A run of your own step carries its module: show it, and offer it as a file."""
    source = snap.config.get("source") if snap is not None else None
    if not isinstance(source, str):
        return
    with st.expander("The code of this run", icon=":material/code:"):
        st.code(source, language="python", line_numbers=True)
        st.download_button(
            "Download the code (.py)",
            source,
            f"{snap.id}-step.py",
            "text/x-python",
            icon=":material/download:",
            on_click="ignore",
            key=f"dl-code:{snap.id}",
        )


def code_diff(a: str, b: str, name_a: str, name_b: str) -> str:
    """A unified diff of two runs' modules (empty when they are the same)."""
    return "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True), name_a, name_b))


def _diffs(snaps: list, labels: list[str]) -> None:
    coded = [(label, s) for label, s in zip(labels, snaps) if isinstance(s.config.get("source"), str)]
    if len(coded) < 2:
        return
    st.markdown("**What the code changed**")
    base_label, base = coded[0]
    for label, other in coded[1:]:
        diff = code_diff(base.config["source"], other.config["source"], base_label, label)
        if diff:
            st.code(diff, language="diff")
        else:
            st.caption(f"{plain(label)}: the same code as {plain(base_label)}.")


def _labels(snaps: list) -> list[str]:
    """Legend labels: run names, made unique with the id where two runs share one."""
    names = [s.name or s.id for s in snaps]
    return [f"{n} ({s.id[:6]})" if names.count(n) > 1 else n for n, s in zip(names, snaps)]


COMPARE_PANELS = 4  # drawn at first: two rows of two, one screen


def _panels(snaps: list) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """The panels the runs' curves fall into (each variant's own groups, the quality scores, the rest),
    and the breakdowns offered apart (per-digit shares, the judge's figures; the references to real
    digits are drawn beside their score)."""
    names = sorted({name for s in snaps for name, c in s.curves.items() if len(c)})
    declared = []
    for snap in snaps:
        spec = VARIANTS.get(snap.variant)
        declared += [p for p in (spec.panels if spec else ()) if p not in declared]
    main = charts.compare_panels([n for n in names if not is_breakdown(n)], declared)
    return main, [n for n in names if is_breakdown(n) and not n.startswith("quality/" + REFERENCE)]


def _default_panels(panels: list[tuple[str, list[str]]], snaps: list) -> list[str]:
    """What the compare view opens with: each run's first panel (its losses), the quality scores, then
    the variants' next panels (the discriminator's verdicts), up to four, in the panels' order."""
    main = [t for t, _ in panels]
    quality = [t for t in main if t.startswith("quality")]
    firsts = []
    for snap in snaps:
        recorded = {name for name, c in snap.curves.items() if len(c)}
        first = next((t for t, names in panels if t not in quality and recorded & set(names)), None)
        if first is not None and first not in firsts:
            firsts.append(first)
    room = max(COMPARE_PANELS - len(quality), len(firsts), 2)
    picked = (firsts + [t for t in main if t not in quality and t not in firsts])[:room]
    return [t for t in main if t in picked or t in quality]


def figure_value(figure: str, run: dict, last: dict[str, float]) -> float | None:
    """A contrast's figure for one run: a metric's last value, or the run's own ms/step and images/s."""
    ms = run.get("ms_per_step")
    if figure == "ms/step":
        return ms
    if figure == "images/s":
        return (run.get("batch_size") or 0) * 1000.0 / ms if ms else None
    return last.get(figure)


def _contrast_table(run_ids: list[str], labels: list[str]) -> None:
    """Where the runs are a page's "with and without" (one variant with a contrast), its figures side by
    side; redrawn every few seconds until both runs have ended."""
    manager = get_manager()
    rows = [manager.store.get_run(r) for r in run_ids]
    if any(r is None for r in rows) or len({r["variant"] for r in rows}) != 1:
        return
    spec = VARIANTS.get(rows[0]["variant"])
    contrast = spec.contrast if spec else None
    if contrast is None or not contrast.when(rows[0]["config"]):
        return
    figures = contrast.figures_for(rows[0]["config"])
    lasts = [manager.store.metrics.last_values(r["id"]) for r in rows]
    table = {"figure": [label for label, _ in figures]}
    for label, row, last in zip(labels, rows, lasts):
        table[label] = [figure_value(figure, row, last) for _, figure in figures]
    values = " vs ".join(format_value(r["config"].get(contrast.setting)) for r in rows)
    st.markdown(f"**The figures this comparison is about** ({contrast.setting} = {values})")
    st.dataframe(
        table,
        hide_index=True,
        column_config={label: st.column_config.NumberColumn(label, format="%.4g") for label in labels},
    )
    active = any(r["status"] in ACTIVE for r in rows)
    if active:
        st.caption("The figures fill in as the runs train and end (one after the other where one trains at a time).")
    seen = f"contrast-active:{','.join(run_ids)}"
    was_active, st.session_state[seen] = st.session_state.get(seen), active
    if was_active and not active:
        st.rerun(scope="app")  # both ended: the whole view (curves, grids, final metrics) is drawn once more


def _await_curves(run_ids: list[str]) -> None:
    """Drawn while no run has a curve yet: the whole view again (panels, chart) once one has."""
    manager = get_manager()
    if any(s is not None and any(len(c) for c in s.curves.values()) for s in map(manager.snapshot, run_ids)):
        st.rerun(scope="app")


def _compare_chart(run_ids: list[str], labels: list[str], options, panels: list) -> None:
    manager = get_manager()
    snaps = [manager.snapshot(r) for r in run_ids]
    runs = [(lab, s.curves, s.batch_size) for lab, s in zip(labels, snaps) if s is not None]
    fig = charts.compare_figure(runs, options, panels=panels)
    st.plotly_chart(fig, width="stretch", key="compare-chart", config={"displaylogo": False})


def _compare(run_ids: list[str]) -> None:
    manager = get_manager()
    snaps = [s for s in (manager.snapshot(r) for r in run_ids) if s is not None]
    rows = [manager.store.get_run(s.id) for s in snaps]
    labels = _labels(snaps)
    st.subheader(f"Comparing {len(snaps)} runs")
    active = any(s.active for s in snaps)
    st.fragment(_contrast_table, run_every=2.0 if active else None)([s.id for s in snaps], labels)
    has_time = any(s.active or any(np.isfinite(c.times).any() for c in s.curves.values()) for s in snaps)
    options = chart_options_ui("compare", has_time)
    panels, breakdowns = _panels(snaps)
    wanted = st.pills(
        "Panels",
        [t for t, _ in panels],
        selection_mode="multi",
        default=_default_panels(panels, snaps),
        key="compare-panels:" + "|".join(t for t, _ in panels),  # new panels (first curves, scores): a fresh default
        help="Which groups of curves to draw, two side by side.",
    )
    extra = st.columns(3)[0].multiselect(
        "Breakdowns",
        breakdowns,
        key="compare-breakdowns",
        placeholder="per-digit scores…" if breakdowns else "none recorded",
        disabled=not breakdowns,
        help="The scores' breakdowns (each digit's legibility, the judge's own figures), a panel each.",
    )
    chosen = [p for p in panels if p[0] in (wanted or [])] + [(n, [n]) for n in extra]
    if chosen:  # live while a run trains: the figure redrawn from fresh snapshots every two seconds
        st.fragment(_compare_chart, run_every=2.0 if active else None)([s.id for s in snaps], labels, options, chosen)
    elif panels:
        st.caption("Pick a panel above to draw its curves.")
    else:
        st.caption("No curves yet: the runs have not recorded a step; they are drawn as soon as they have.")
        if active:
            st.fragment(_await_curves, run_every=2.0)([s.id for s in snaps])
    _diffs(snaps, labels)

    st.markdown("**Settings that differ**")
    differing = exports.differing_settings(rows, skip=("source",))  # the code's diff is above
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
    finals = [manager.store.metrics.last_values(s.id) for s in snaps]
    names = sorted({n for f in finals for n in f if not n.startswith("epoch/class_acc")})
    st.dataframe(
        {"metric": names, **{lab: [f.get(n) for n in names] for lab, f in zip(labels, finals)}}, hide_index=True
    )
    _shared_grids(snaps)


DRAWN_KEY = "runs-drawn-with"  # the selection the page below the table was drawn with


def _kept_once_ended(read, ended: dict[str, int], what: str):
    """``read(run_id)``, kept in this session for runs that have ended (``ended``: their steps), until a single
    step adds one: the table is redrawn every 2 s while a run trains, and read every run's again each time."""
    kept = st.session_state.setdefault(f"runs-table-kept:{what}", {})

    def kept_read(run_id: str):
        key = (run_id, ended.get(run_id))
        if key in kept:
            return kept[key]
        value = read(run_id)
        if run_id in ended:
            kept[key] = value
        return value

    return kept_read


def _runs_table(shown: list[str]) -> list[str]:
    """The runs table (only ``shown`` variants, if any picked); the ids of the selected runs.

    Drawn again on its own while a run trains; a new selection redraws the whole page, whose
    run panel or compare view follows it."""
    manager = get_manager()
    runs = [r for r in manager.list(limit=500) if not shown or r["variant"] in shown]
    owner = visitor_hash(visitor()) if manager.private_runs else None
    ended = {r["id"]: r["steps_done"] for r in runs if r["status"] not in ACTIVE}
    last_values = _kept_once_ended(manager.store.metrics.last_values, ended, "last-values")
    events = _kept_once_ended(manager.store.events, ended, "events")
    chosen = runs_table_ui(*run_rows(runs, last_values, owner, events))
    drawn = st.session_state.get(DRAWN_KEY)
    if drawn is not None and chosen != drawn:  # a fragment rerun: the rows ticked changed
        st.rerun()
    return chosen


def render() -> None:
    require_app()
    manager = get_manager()
    st.title("Runs")
    if st.session_state.get("deleted"):
        st.success(f"Run {code(st.session_state.pop('deleted'))} was deleted, with its curves, grids and model.")
    if st.session_state.get("delete-error"):
        st.error(plain(st.session_state.pop("delete-error")))
    runs = manager.list(limit=500)
    if not runs:
        st.info("No runs yet. Open a training step and press Start.")
        return
    variants = list(dict.fromkeys(r["variant"] for r in runs))
    shown = []
    if len(variants) > 1:
        shown = st.pills(
            "Variants",
            variants,
            selection_mode="multi",
            format_func=lambda key: VARIANTS[key].title if key in VARIANTS else key,
            key="runs-variants",
            help="Show only the runs of these variants (none picked: all).",
        )
    st.caption("Tick rows to open a run, or several to compare them; click a column's header to sort by it.")
    # The table follows its runs (progress, status, last values) every two seconds while one trains;
    # the panels below follow the selection.
    st.session_state.pop(DRAWN_KEY, None)
    live = any(r["status"] in ACTIVE for r in runs)
    chosen = st.fragment(_runs_table, run_every=2.0 if live else None)(shown)
    st.session_state[DRAWN_KEY] = chosen
    if len(chosen) == 1:
        st.divider()
        _name_and_notes(chosen[0])
        if not run_panel(chosen[0]):
            st.info("This run no longer exists (it was deleted, perhaps in another tab).")
            return
        _code(manager.snapshot(chosen[0]))
        st.markdown("**Take it away**")
        _exports(chosen[0])
        _delete(chosen[0])
    elif len(chosen) > 1:
        st.divider()
        if len(chosen) > MAX_COMPARED:
            st.warning(
                f"{len(chosen)} runs are ticked; the comparison shows the first {MAX_COMPARED} "
                "(untick some to choose which)."
            )
        _compare(chosen[:MAX_COMPARED])
