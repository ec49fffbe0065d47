"""Hyperparameter specs and config validation, shared by the runtime and the UI.

A variant declares its knobs as ``ParamSpec``s; ``validate_config`` turns a mapping
of user values into a complete, typed config or raises ``ValueError`` naming the
knob, the value and the allowed range. ``parse_value`` reads a knob from text (a URL
query parameter) with the same rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

KINDS = ("int", "float", "bool", "choice", "digits", "code", "text", "mapping")
MAX_CODE = 200_000  # characters of a "code" setting (a module's source)
MAX_TEXT = 200  # characters of a "text" setting (a file's name)


@dataclass(frozen=True)
class ParamSpec:
    """One hyperparameter: what a widget needs to offer it and a validator to check it."""

    name: str  # key in the config dict, also the URL query parameter
    kind: str  # one of KINDS
    default: Any  # value used when the user gives none
    label: str = ""  # widget label; defaults to the name
    help: str = ""  # one sentence shown next to the widget
    min: float | None = None  # inclusive lower bound (int/float)
    max: float | None = None  # inclusive upper bound (int/float); also the hosted demo's cap
    step: float | None = None  # slider step (int/float)
    choices: tuple = ()  # allowed values (choice)
    log: bool = False  # offer on a log scale (learning rates)
    visible_if: tuple[str, Any] | None = None  # (other knob, value) for which this knob applies
    advanced: bool = False  # tuck away under "Advanced" in the UI

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {KINDS}, not {self.kind!r}")
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"{self.name}: default {self.default!r} is not among {self.choices}")
        if self.kind in ("int", "float", "digits"):
            check(self, self.default)
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " "))

    def range_text(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind == "bool":
            return "true or false"
        if self.kind == "digits":
            return "one or more different digits 0-9, e.g. 0,3,8"
        if self.kind == "code":
            return f"Python source text of at most {MAX_CODE:,} characters"
        if self.kind == "text":
            return f"a line of text of at most {MAX_TEXT} characters"
        if self.kind == "mapping":
            return "a mapping of names to numbers or booleans"
        return f"a{'n integer' if self.kind == 'int' else ' number'} from {self.min:g} to {self.max:g}"


def check(spec: ParamSpec, value: Any) -> Any:
    """Return ``value`` typed for ``spec`` or raise ``ValueError`` saying what is wrong."""
    bad = f"{spec.name}={value!r} is invalid: expected {spec.range_text()}"
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(bad)
        return value
    if spec.kind == "choice":
        if value not in spec.choices:
            raise ValueError(bad)
        return value
    if spec.kind == "code":
        if not isinstance(value, str) or len(value) > MAX_CODE:
            raise ValueError(f"{spec.name} is invalid: expected {spec.range_text()}")
        return value
    if spec.kind == "text":
        if not isinstance(value, str) or len(value) > MAX_TEXT or not value.isprintable():
            raise ValueError(f"{spec.name}={str(value)[:40]!r} is invalid: expected {spec.range_text()}")
        return value
    if spec.kind == "mapping":
        ok = isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, (bool, int, float)) for k, v in value.items()
        )
        if not ok:
            raise ValueError(f"{spec.name}={value!r} is invalid: expected {spec.range_text()}")
        return dict(value)
    if spec.kind == "digits":
        if not isinstance(value, (list, tuple)) or not value or len(set(value)) != len(value):
            raise ValueError(bad)
        if not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 9 for d in value):
            raise ValueError(bad)
        return tuple(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(bad)
    if spec.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(bad)
            value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(bad)
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        raise ValueError(bad)
    return value


def parse_value(spec: ParamSpec, text: str) -> Any:
    """Read a knob from text (a query parameter); raise ``ValueError`` if it does not parse."""
    text = text.strip()
    if spec.kind == "bool":
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{spec.name}={text!r} is invalid: expected {spec.range_text()}")
    if spec.kind == "choice":
        for choice in spec.choices:
            if str(choice) == text:
                return choice
        raise ValueError(f"{spec.name}={text!r} is invalid: expected {spec.range_text()}")
    if spec.kind == "digits":
        parts = [p.strip() for p in text.split(",")]
        if not all(p.isdigit() and len(p) == 1 for p in parts):
            raise ValueError(f"{spec.name}={text!r} is invalid: expected {spec.range_text()}")
        return check(spec, [int(p) for p in parts])
    try:
        value = int(text) if spec.kind == "int" else float(text)
    except ValueError:
        raise ValueError(f"{spec.name}={text!r} is invalid: expected {spec.range_text()}") from None
    return check(spec, value)


def validate_config(specs: tuple[ParamSpec, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """Complete ``values`` with defaults and check every one; unknown knobs are refused."""
    by_name = {s.name: s for s in specs}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    return {s.name: check(s, values[s.name]) if s.name in values else s.default for s in specs}


def format_value(value: Any) -> str:
    """The inverse of ``parse_value`` for URLs: short, exact and stable."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)
