"""Run ids and names: an id a path can be built from, names a person can tell apart (the variant
and the settings that differ from its defaults)."""

from __future__ import annotations

import re

from trainers.registry import VariantSpec

RUN_ID = re.compile(r"[0-9a-f]{12}")  # a run's id, and its folder's name (anything else is never a path)
MAX_NAME = 80
MAX_NOTES = 4000


def valid_id(run_id) -> bool:
    """Whether ``run_id`` is a run id (checked before any path or query is made from it)."""
    return isinstance(run_id, str) and RUN_ID.fullmatch(run_id) is not None


def _short(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def default_name(spec: VariantSpec | None, variant: str, config: dict) -> str:
    """``<title>: k=v, ...`` for the key settings that differ from the defaults (``<title>, defaults`` if none)."""
    if spec is None:
        return variant
    defaults = {p.name: p.default for p in spec.params}
    key = spec.distinguishing(config)
    changed = [f"{k}={_short(v)}" for k, v in key.items() if v != defaults.get(k)]
    if spec.describe is None:  # then any other setting changed from its default (epochs=3), after the key ones
        changed += [
            f"{p.name}={_short(config[p.name])}"
            for p in spec.params
            if p.name not in key and p.name in config and config[p.name] != p.default and p.kind != "code"
        ]
    name = f"{spec.title}: {', '.join(changed)}" if changed else f"{spec.title}, defaults"
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name #2``, ``#3``, ... if another run already has it."""
    if name not in taken:
        return name
    n = 2
    while f"{name} #{n}" in taken:
        n += 1
    return f"{name} #{n}"


def check_name(name: str, notes: str) -> tuple[str, str]:
    """A cleaned (name, notes), or ``ValueError`` saying what is wrong."""
    name = " ".join(str(name).split())
    if not name:
        raise ValueError("A run needs a name: type a few words that tell it apart.")
    if len(name) > MAX_NAME:
        raise ValueError(f"That name is {len(name)} characters long; keep it to {MAX_NAME}.")
    notes = str(notes).strip()
    if len(notes) > MAX_NOTES:
        raise ValueError(f"The notes are {len(notes)} characters long; keep them to {MAX_NOTES}.")
    return name, notes
