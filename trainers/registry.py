"""The catalogue of training-step variants a user can pick from: the lab's one extension point.

A ``VariantSpec`` declares everything the rest of the lab needs to offer a variant:
title and navigation icon, knobs, metrics, which data it needs for a given config,
the settings that tell its runs apart, what a person should watch for, its extra
views, and a tiny config the test suite trains it with. ``build`` turns a validated
config into an ``Experiment``: a compiled model plus the arguments for ``fit``.
Nothing here knows about Streamlit or threads; a notebook can do
``exp = get_variant("gan").build(cfg)`` and ``exp.model.fit(**exp.fit_kwargs)``.

Adding a variant: one module under ``trainers/variants/`` defining ``SPEC``, one line
in ``trainers/__init__.py``, one three-line page stub ``pages/<key>.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from trainers.config import ParamSpec, validate_config
from trainers.steering import Steering
from trainers.views import View


@dataclass
class Experiment:
    """A ready-to-fit model and everything the runtime streams about it."""

    model: Any  # a compiled keras.Model
    fit_kwargs: dict  # x, y, epochs, batch_size, sample_weight, class_weight, validation_data, ...
    batch_size: int | None  # samples per step, for throughput in samples/s (None: unknown)
    sample_images: Callable[[], np.ndarray] | None = None  # fixed-noise digits, uint8 (n, 28, 28)
    grid_columns: int | None = None  # columns of the sample grid (default: as square as possible)
    epoch_report: Callable[[], dict[str, float]] | None = None  # extra figures at each epoch end
    final_report: Callable[[], dict[str, float]] | None = None  # figures once training ends
    quality_report: Callable[..., dict[str, float] | None] | None = None  # scores (costly: on a budget); gets
    # should_stop, a callable: when it turns true mid-way, the report may give up and return None
    steering: Steering | None = None  # what can change mid-run, and single steps (trainers/steering.py)
    data_source: str = ""  # where the data came from, for the run record
    # A script that calls fit() itself (your own step): script(stream, should_stop) runs it, adding
    # stream(model, sample_images) -> callbacks to each of its fit() calls; returns the last model fit.
    # ``model`` and ``fit_kwargs`` are then unused.
    script: Callable[[Callable, Callable[[], bool]], Any] | None = None


def never(config: dict) -> bool:
    return False


def always(config: dict) -> bool:
    return True


@dataclass(frozen=True)
class Contrast:
    """ "Run with and without": where a page is about a difference (class weights or none, the guide's
    step or the tuned one), two runs that differ in ``setting`` only, started together and opened side
    by side, their headline figures in one small table.

    ``figures`` lists (label, figure) pairs, or is a function of the config that lists them (where they
    depend on it, as the rare digits do): a figure is a metric's last value (a name as the store keeps
    it, ``final/test_acc``) or one of the run's own figures, ``ms/step`` and ``images/s``.
    """

    button: str  # the button's words: "Run with and without class weights"
    setting: str
    runs: tuple[tuple[Any, str], tuple[Any, str]]  # (value, name) of each: ("class_weight", "with class weights")
    figures: tuple[tuple[str, str], ...] | Callable[[dict], tuple[tuple[str, str], ...]]
    when: Callable[[dict], bool] = always  # e.g. only for the MNIST task

    def figures_for(self, config: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        return self.figures(config) if callable(self.figures) else self.figures

    @property
    def values(self) -> list:
        return [value for value, _ in self.runs]

    @property
    def names(self) -> list[str]:
        return [name for _, name in self.runs]


@dataclass(frozen=True)
class VariantSpec:
    """A training-step variant, as the UI, the runtime and the tests see it."""

    key: str  # stable id, used in URLs, the run store and the page stub's file name
    title: str  # page title and navigation label
    summary: str  # one line
    params: tuple[ParamSpec, ...]
    metrics: tuple[str, ...]  # per-step metric names the step may report
    build: Callable[[dict], Experiment]  # takes a validated config
    # The functions whose source the page shows ("the code that runs"), or a function of the config
    # that lists them (where the config chooses the step); each is titled by its qualified name.
    code: tuple[Callable, ...] | Callable[[dict], tuple[Callable, ...]]
    tiny: Mapping[str, Any]  # a config that trains in about a second: every registered variant is tested with it
    guide_section: str = ""  # the section of "Customizing what happens in fit() with PyTorch", if any
    icon: str = ":material/model_training:"  # navigation icon (a Material symbol)
    section: str = "From the guide"  # navigation group
    grid_caption: str = ""  # caption of the sample grid; a variant with a grid sets it
    uses_mnist: Callable[[dict], bool] = never  # whether a config needs MNIST (the page checks it first)
    key_settings: tuple[str, ...] = ()  # settings that tell runs apart (run names, the runs table)
    describe: Callable[[dict], dict] | None = None  # computed instead, where settings nest (your own step)
    watch_for: str = ""  # Markdown: what a person should look for while it trains
    expect: str = ""  # Markdown: what a run with the defaults shows, and when, on a machine like the lab's
    expect_picture: str = ""  # a PNG (path from the repository's root) of what the grid looks like along the way
    presets: tuple[tuple[str, Mapping[str, Any]], ...] = ()  # (label, settings) a newcomer can open in one click
    run_views: tuple[View, ...] = ()  # extra panels under a run's curves (trainers/views.py)
    page_views: tuple[View, ...] = ()  # extra panels on the page, from settings and the store
    headline: tuple[str, ...] = ()  # figures the runs table shows for a finished run (default: metrics)
    panels: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (title, metrics) drawn together; others by default
    tiny_falls: str | None = None  # a metric that must fall over the tiny config's epochs, if any
    epoch_metrics: tuple[str, ...] = field(default_factory=tuple)  # extra names reported per epoch
    check: Callable[[dict], dict | None] | None = None  # cross-knob rules; raises ValueError, may complete the config
    explain_error: Callable[[dict, BaseException], tuple[str, str]] | None = None  # (message, details) of a failure
    runs_code: bool = False  # runs code a visitor typed: off on a shared demo unless explicitly allowed
    contrast: Contrast | None = None  # a page about a difference: run with and without in one click

    def __post_init__(self):
        if not self.headline:
            object.__setattr__(self, "headline", self.metrics)

    @property
    def produces_images(self) -> bool:
        return bool(self.grid_caption)

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A complete, checked config for this variant (``ValueError`` if anything is off)."""
        config = validate_config(self.params, values)
        if self.check is not None:
            config = self.check(config) or config
        return config

    def code_listing(self, config: Mapping[str, Any]) -> list[tuple[str, Callable]]:
        """(title, function) of the code that runs for ``config``, for the page to show."""
        functions = self.code(config) if callable(self.code) else self.code
        return [(fn.__qualname__, fn) for fn in functions]

    def param(self, name: str) -> ParamSpec:
        return next(p for p in self.params if p.name == name)

    def distinguishing(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The key settings of ``config`` (all settings if none are declared), in declared order."""
        if self.describe is not None:
            return self.describe(config)
        names = self.key_settings or tuple(p.name for p in self.params)
        return {n: config[n] for n in names if n in config}


VARIANTS: dict[str, VariantSpec] = {}


def register(spec: VariantSpec) -> VariantSpec:
    if spec.key in VARIANTS:
        raise ValueError(f"variant {spec.key!r} registered twice")
    if not spec.key.isidentifier():
        raise ValueError(f"variant key {spec.key!r} must be a Python identifier (it names the page stub)")
    VARIANTS[spec.key] = spec
    return spec


def unregister(key: str) -> None:
    """Remove a variant (tests register throwaway ones)."""
    VARIANTS.pop(key, None)


def get_variant(key: str) -> VariantSpec:
    """The variant registered under ``key``; ``ValueError`` listing the known keys otherwise."""
    try:
        return VARIANTS[key]
    except KeyError:
        raise ValueError(f"unknown variant {key!r}; choose one of: {', '.join(VARIANTS)}") from None
