"""The catalogue of training-step variants a user can pick from.

Each ``VariantSpec`` carries what a UI needs to offer the variant (title, summary,
knobs, metrics) and a ``build`` function that turns a validated config into an
``Experiment``: a compiled model plus the arguments for ``fit``. Nothing here knows
about Streamlit or threads; a notebook can do ``exp = get_variant("gan").build(cfg)``
and ``exp.model.fit(**exp.fit_kwargs)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from trainers.config import ParamSpec, validate_config


@dataclass
class Experiment:
    """A ready-to-fit model and everything the runtime streams about it."""

    model: Any  # a compiled keras.Model
    fit_kwargs: dict  # x, y, epochs, batch_size, sample_weight, class_weight, validation_data, ...
    batch_size: int  # samples per step, for throughput in samples/s
    sample_images: Callable[[], np.ndarray] | None = None  # fixed-noise digits, uint8 (n, 28, 28)
    epoch_report: Callable[[], dict[str, float]] | None = None  # extra figures at each epoch end
    final_report: Callable[[], dict[str, float]] | None = None  # figures once training ends
    data_source: str = ""  # where the data came from, for the run record


@dataclass(frozen=True)
class VariantSpec:
    """A training-step variant of the guide, as the UI and the runtime see it."""

    key: str  # stable id, used in URLs and the run store
    title: str
    summary: str  # one line
    guide_section: str  # the section of "Customizing what happens in fit() with PyTorch"
    params: tuple[ParamSpec, ...]
    metrics: tuple[str, ...]  # per-step metric names the step may report
    produces_images: bool
    build: Callable[[dict], Experiment]  # takes a validated config
    code: Callable[[dict], list[tuple[str, Callable]]]  # (title, function) whose source the UI shows
    epoch_metrics: tuple[str, ...] = field(default_factory=tuple)  # extra names reported per epoch
    check: Callable[[dict], None] | None = None  # cross-knob rules; raises ValueError

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A complete, checked config for this variant (``ValueError`` if anything is off)."""
        config = validate_config(self.params, values)
        if self.check is not None:
            self.check(config)
        return config

    def param(self, name: str) -> ParamSpec:
        return next(p for p in self.params if p.name == name)


VARIANTS: dict[str, VariantSpec] = {}


def register(spec: VariantSpec) -> VariantSpec:
    if spec.key in VARIANTS:
        raise ValueError(f"variant {spec.key!r} registered twice")
    VARIANTS[spec.key] = spec
    return spec


def get_variant(key: str) -> VariantSpec:
    """The variant registered under ``key``; ``ValueError`` listing the known keys otherwise."""
    try:
        return VARIANTS[key]
    except KeyError:
        raise ValueError(f"unknown variant {key!r}; choose one of: {', '.join(VARIANTS)}") from None
