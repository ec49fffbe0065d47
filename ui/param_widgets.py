"""Hyperparameter widgets built from a variant's ``ParamSpec``s, kept in sync with the URL.

A shared link carries the settings as query parameters (only those that differ
from the defaults, to keep links short). Values that do not parse or are out of
range fall back to the default, and the page says which ones and why.
"""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from trainers.config import ParamSpec, format_value, parse_value
from trainers.registry import VariantSpec

RESERVED = {"run"}  # query parameters that are not settings


def _widget_key(spec: VariantSpec, param: ParamSpec) -> str:
    return f"cfg:{spec.key}:{param.name}"


def config_from_query(spec: VariantSpec, query: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Settings found in ``query`` (valid ones only) and a note for each one ignored."""
    values, notes = {}, []
    by_name = {p.name: p for p in spec.params}
    for name, text in query.items():
        if name in RESERVED:
            continue
        param = by_name.get(name)
        if param is None:
            notes.append(f"{name!r} is not a setting of {spec.title}; ignored.")
            continue
        try:
            values[name] = parse_value(param, text)
        except ValueError as exc:
            notes.append(f"{exc}; using the default {format_value(param.default)}.")
    return values, notes


def _seed_widgets(spec: VariantSpec) -> list[str]:
    """Initialise the widgets once per page visit: URL first, then this session's last settings."""
    marker = f"cfg-loaded:{spec.key}"
    query = {k: st.query_params.get(k) for k in st.query_params.keys()}
    signature = tuple(sorted((k, v) for k, v in query.items() if k not in RESERVED))
    if st.session_state.get(marker) == signature and all(_widget_key(spec, p) in st.session_state for p in spec.params):
        return st.session_state.get(f"cfg-notes:{spec.key}", [])
    from_url, notes = config_from_query(spec, query)
    remembered = st.session_state.get(f"cfg-last:{spec.key}", {}) if not signature else {}
    seeded = {p.name: from_url.get(p.name, remembered.get(p.name, p.default)) for p in spec.params}
    for p in spec.params:
        value = seeded[p.name]
        st.session_state[_widget_key(spec, p)] = list(value) if p.kind == "digits" else value
    st.session_state[marker] = signature
    st.session_state[f"cfg-seeded:{spec.key}"] = seeded
    st.session_state[f"cfg-notes:{spec.key}"] = notes
    return notes


def param_widget(p: ParamSpec, key: str, disabled: bool = False, help: str | None = None) -> Any:
    """The widget for one setting (its kind decides which), bound to session-state ``key``."""
    common = dict(key=key, help=help or p.help, disabled=disabled)
    label = p.label[0].upper() + p.label[1:]
    if p.kind == "bool":
        return st.toggle(label, **common)
    if p.kind == "choice":
        return st.radio(label, p.choices, horizontal=True, **common)
    if p.kind == "digits":
        return tuple(sorted(st.pills(label, list(range(10)), selection_mode="multi", **common) or ()))
    if p.kind == "float" and p.log:
        return st.number_input(
            label,
            min_value=float(p.min),
            max_value=float(p.max),
            format="%.1e",
            step=float(10 ** math.floor(math.log10(max(p.default, 1e-12)))),
            **common,
        )
    if p.kind == "float":
        return st.slider(label, min_value=float(p.min), max_value=float(p.max), step=float(p.step or 0.01), **common)
    span = (p.max - p.min) / (p.step or 1)
    if span <= 200:
        return st.slider(label, min_value=int(p.min), max_value=int(p.max), step=int(p.step or 1), **common)
    return st.number_input(label, min_value=int(p.min), max_value=int(p.max), step=int(p.step or 1), **common)


def _widget(spec: VariantSpec, p: ParamSpec, disabled: bool) -> Any:
    return param_widget(p, _widget_key(spec, p), disabled)


def settings_ui(spec: VariantSpec, disabled: bool = False) -> tuple[dict[str, Any], list[str]]:
    """Draw the settings; return (values as shown, notes about ignored URL values).

    Knobs that do not apply (``visible_if``) are hidden but keep their value.
    Advanced knobs sit in an expander. The URL is updated to the shown values.
    """
    notes = _seed_widgets(spec)
    values: dict[str, Any] = {}
    basic = [p for p in spec.params if not p.advanced]
    advanced = [p for p in spec.params if p.advanced]
    for group, container in ((basic, st.container()), (advanced, st.expander("Advanced") if advanced else None)):
        if container is None:
            continue
        with container:
            for p in group:
                if (
                    p.visible_if
                    and values.get(
                        p.visible_if[0], st.session_state.get(_widget_key(spec, spec.param(p.visible_if[0])))
                    )
                    != p.visible_if[1]
                ):
                    values[p.name] = st.session_state[_widget_key(spec, p)]
                    continue
                values[p.name] = _widget(spec, p, disabled)
    st.session_state[f"cfg-last:{spec.key}"] = dict(values)
    sync_url(spec, values)
    return values, notes


def current_config(spec: VariantSpec) -> dict[str, Any]:
    """The values the widgets hold right now (read in callbacks, which run before the rerun)."""
    values = {p.name: st.session_state.get(_widget_key(spec, p), p.default) for p in spec.params}
    return {p.name: tuple(values[p.name]) if p.kind == "digits" else values[p.name] for p in spec.params}


def sync_url(spec: VariantSpec, values: dict[str, Any]) -> None:
    """Write the non-default settings into the URL (and drop the rest), keeping ``run``."""
    wanted = {p.name: format_value(values[p.name]) for p in spec.params if values.get(p.name, p.default) != p.default}
    current = {k: st.query_params.get(k) for k in st.query_params.keys() if k not in RESERVED}
    if wanted == current:
        return
    for k in current:
        if k not in wanted:
            del st.query_params[k]
    for k, v in wanted.items():
        st.query_params[k] = v
    # The URL now matches the widgets: do not re-seed them from it on the next rerun.
    st.session_state[f"cfg-loaded:{spec.key}"] = tuple(sorted(wanted.items()))
    if values != st.session_state.get(f"cfg-seeded:{spec.key}"):
        st.session_state[f"cfg-notes:{spec.key}"] = []  # the person has changed settings since
