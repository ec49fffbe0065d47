"""Steering a run while it trains: settings that can change mid-run, and single phases.

A variant that can be steered gives its ``Experiment`` a ``Steering``: for each knob,
the setting's own ``ParamSpec`` (so a new value is checked against the same range as
at the start) and how to read and change it on the live model; and the single steps a
paused run can take (one discriminator step, one generator step, one full step).
No threads or UI here: the runtime applies changes between batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import keras
import numpy as np
import torch

from trainers.config import ParamSpec, check


@dataclass(frozen=True)
class Knob:
    param: ParamSpec  # range and type of a new value (the setting's own)
    get: Callable[[], object]
    set: Callable[[object], None]


@dataclass(frozen=True)
class SingleStep:
    label: str  # button text
    run: Callable[[], None]  # one step on a fresh batch; updates the model's trackers
    networks: tuple[str, ...]  # which networks it changes (its help text says so)


@dataclass
class Steering:
    knobs: dict[str, Knob] = field(default_factory=dict)
    single_steps: dict[str, SingleStep] = field(default_factory=dict)

    def check(self, changes: dict) -> dict:
        """Typed, range-checked changes; ``ValueError`` naming the knob and its range otherwise."""
        unknown = sorted(set(changes) - set(self.knobs))
        if unknown:
            raise ValueError(f"{', '.join(unknown)} cannot be changed during a run; these can: {', '.join(self.knobs)}")
        return {name: check(self.knobs[name].param, value) for name, value in changes.items()}

    def current(self) -> dict[str, float]:
        return {name: knob.get() for name, knob in self.knobs.items()}


def optimizer_rate(optimizer: keras.optimizers.Optimizer, param: ParamSpec) -> Knob:
    """A knob for an optimizer's learning rate (a Keras variable: the next update uses the new value)."""
    # Read back as the float32 it is stored in, written as its shortest decimal: 0.0003, not 0.0003000000142.
    return Knob(
        param, lambda: float(str(np.float32(optimizer.learning_rate))), lambda v: optimizer.learning_rate.assign(v)
    )


def attribute(obj, name: str, param: ParamSpec) -> Knob:
    """A knob for a plain attribute the step reads every batch (e.g. ``label_noise``)."""
    return Knob(param, lambda: getattr(obj, name), lambda v: setattr(obj, name, v))


def random_batches(*arrays: np.ndarray, batch_size: int, seed: int) -> Callable[[], tuple]:
    """A function returning a random batch of ``arrays`` as tensors on the training device."""
    tensors = [keras.ops.convert_to_tensor(a) for a in arrays]
    generator = torch.Generator().manual_seed(seed)

    def draw():
        index = torch.randint(len(tensors[0]), (batch_size,), generator=generator).to(tensors[0].device)
        return tuple(t[index] for t in tensors)

    return draw
