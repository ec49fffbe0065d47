"""Sweeps: one run per combination of two to six values of one or two settings, started together.

All combinations are checked before any run starts (every value against the setting's
range, every config against the variant's rules, and the caps of a shared demo): a
sweep starts whole or not at all. Its runs share a sweep id and are named by the values
that vary, so the compare view tells them apart.
"""

from __future__ import annotations

import itertools
import uuid

from trainers.config import format_value

MIN_VALUES, MAX_VALUES = 2, 6
MAX_SETTINGS = 2


def combinations(grid: dict[str, list]) -> list[dict]:
    """Every combination of ``grid``'s values (name -> values), in order."""
    if not 1 <= len(grid) <= MAX_SETTINGS:
        raise ValueError(f"A sweep varies one or two settings, not {len(grid)}.")
    for name, values in grid.items():
        if not MIN_VALUES <= len(values) <= MAX_VALUES:
            raise ValueError(f"Give {MIN_VALUES} to {MAX_VALUES} values for {name}, not {len(values)}.")
        if len({format_value(v) for v in values}) != len(values):
            raise ValueError(f"The values for {name} repeat: give each once.")
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def apply(base: dict, combo: dict) -> dict:
    """``base`` with ``combo``'s values; a dotted name (``hp.learning_rate``) sets a nested setting."""
    config = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for name, value in combo.items():
        outer, _, inner = name.partition(".")
        if inner:
            config.setdefault(outer, {})[inner] = value
        else:
            config[name] = value
    return config


def start_sweep(
    manager, variant: str, base: dict, grid: dict[str, list], visitor=None, client=None, names: list[str] | None = None
) -> list[str]:
    """Start one run per combination of ``grid`` over ``base``; return their ids (``ValueError`` if refused).
    ``names``: the runs' names, one per combination in order (default: the sweep and its values)."""
    import trainers

    spec = trainers.get_variant(variant)
    configs = [spec.validate(apply(base, combo)) for combo in combinations(grid)]  # all checked first
    cap = manager.max_per_visitor
    if cap and manager.private_runs:  # all or nothing: never a sweep cut short by the cap half-way
        holding = manager.held_by(visitor, client)
        if holding + len(configs) > cap:
            already = f"you already have {holding} training or waiting, and " if holding else ""
            raise ValueError(
                f"This sweep needs {len(configs)} runs: {already}one visitor may have {cap} at once here. "
                + ("Give fewer values." if len(configs) > cap else "Stop one of your runs or wait for it to end.")
            )
    room = manager.queue_room()
    if len(configs) > room:
        raise ValueError(f"The lab's queue has room for {room} more runs only.")
    sweep = uuid.uuid4().hex[:8]
    ids = []
    for i, (combo, config) in enumerate(zip(combinations(grid), configs)):
        label = ", ".join(f"{k}={format_value(v)}" for k, v in combo.items())
        name = names[i] if names else f"sweep {sweep}: {label}"
        ids.append(manager.start(variant, config, visitor=visitor, client=client, sweep=sweep, name=name))
    return ids
