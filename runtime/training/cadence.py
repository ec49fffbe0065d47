"""How often costly things happen while a run trains: sample grids, quality scores."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cadence:
    """How often something costly is done while training: the one definition, with the grid's defaults.

    It is due every ``every`` steps, but no sooner than ``min_seconds`` after the last
    time (on a fast GPU every N steps would flood the store), and never more often than
    keeps it under ``budget`` of training time (a 0.1 s grid on a 2-core CPU at 2%: one
    every 5 s). Tests use ``Cadence.every_step(n)``: exactly every n steps.
    """

    every: int = 1
    min_seconds: float = 2.0
    budget: float | None = 0.02

    def __post_init__(self):
        if not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"grid every={self.every!r} is invalid: expected an integer of at least 1")
        if not self.min_seconds >= 0:
            raise ValueError(f"grid min_seconds={self.min_seconds!r} is invalid: expected 0 or more seconds")
        if self.budget is not None and not 0 < self.budget <= 1:
            raise ValueError(f"grid budget={self.budget!r} is invalid: expected a share of time in (0, 1]")

    @classmethod
    def every_step(cls, every: int = 1) -> "Cadence":
        """A grid exactly every ``every`` steps, whatever the time (deterministic, for tests)."""
        return cls(every=every, min_seconds=0.0, budget=None)

    def wait_after(self, last_cost: float) -> float:
        """Seconds to wait after a grid that took ``last_cost`` seconds to draw."""
        return max(self.min_seconds, last_cost / self.budget) if self.budget else self.min_seconds


GRIDS = Cadence()  # the app's sample grids: as soon as 2 s have passed, at most 2% of training time
QUALITY = Cadence(min_seconds=10.0, budget=0.03)  # scores of the samples: at most 3% of training time
