"""Extra views a variant asks for, declared as data (the UI decides how to draw them).

A variant's page shows its curves and, when it produces images, a sample grid. Any
further panel is declared on its ``VariantSpec`` as one of these frozen dataclasses;
``ui/views.py`` holds one renderer per class. A new variant reuses a kind that exists
without touching the UI; a new *kind* of view is one class here and one renderer there.

Run views are drawn from a run's snapshot, under its curves; page views are drawn from
the settings and the run store, once per page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


def always(config: dict) -> bool:
    return True


@dataclass(frozen=True)
class View:
    """Base of every view: ``when(config)`` says whether it applies to a run's settings."""

    when: Callable[[dict], bool] = always


@dataclass(frozen=True)
class RecallByDigit(View):
    """Bars of per-digit recall on held-out images, from ``epoch/<prefix><digit>`` figures."""

    title: str = "Recall per digit on held-out images"
    prefix: str = "class_acc_"
    highlight_below: str = ""  # a setting: digits below its value are drawn highlighted
    highlight_label: str = "highlighted"  # what the highlight means, for the axis title


@dataclass(frozen=True)
class EpochTable(View):
    """A per-epoch table of ``epoch/<name>`` figures, and final figures as metrics."""

    title: str = "Per epoch"
    columns: tuple[str, ...] = ()
    finals: tuple[tuple[str, str], ...] = ()  # (label, name of a final/<name> figure)
    empty: str = "Appears at the end of the first epoch."


@dataclass(frozen=True)
class StepSpeed(View):
    """Page view: median time per train step of each value of a setting (e.g. guide vs tuned step)."""

    setting: str = "step"  # the setting whose values are compared
    per: str = "batch_size"  # compared at the value of this setting the page shows
    title: str = "What tuning buys"


@dataclass(frozen=True)
class QualityScores(View):
    """The samples' scores over time (``quality/*``: legible, class balance, Fréchet distance), each beside
    what real digits score, and the latest histogram of digits read; with ``per_digit``, each asked-for
    digit's legibility."""

    title: str = "Quality of the samples, judged by an MNIST judge that can say 'not a digit'"
    per_digit: bool = False


@dataclass(frozen=True)
class PrecisionNote(View):
    """Page view: which precisions this machine offers for the ``precision`` setting, and why."""

    setting: str = "precision"
