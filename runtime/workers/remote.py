"""A run that trains in another process (a worker process or a Ray actor), seen from both sides.

Where a run trains outside the server, it records into a ``RecordingRun``: a ``LiveRun``
that also keeps every recording call. The server collects those calls and replays
them onto its own ``LiveRun`` (``replay``), whose writer puts them in the store, so the
pages, compare and exports read every run the same way, wherever it trains. The other
way, what a person asks of the server's run (stop, pause, resume, steering changes,
single steps) is forwarded to the worker (``Relay``), which applies it between batches.

A run's ``Steering`` holds the live model, so it stays in the worker; the server gets
its description (``describe_steering``) and a ``RemoteSteering`` with the same knobs,
ranges and single steps, whose values follow the changes the worker reports applied.
"""

from __future__ import annotations

import inspect
import io
import math
import pickle
import threading
import time
from typing import Callable

from runtime.record.live import LiveRun
from trainers.steering import Knob, SingleStep, Steering

# The LiveRun methods a worker's run records and the server replays; nothing else is ever called.
REPLAYED = (
    "saving",
    "begin",
    "record_step",
    "record_epoch",
    "record_metrics",
    "record_event",
    "record_final",
    "record_grid",
    "set_status",
    "stopping",
    "still_working",
    "built",
)
_STAMPED = (
    "begin",
    "record_step",
    "record_epoch",
    "record_metrics",
    "record_event",
)  # replayed with the worker's clock (when it happened, not when it arrived)
_SIGNATURES = {name: inspect.signature(getattr(LiveRun, name)) for name in REPLAYED}  # a worker's calls must fit


class RecordingRun(LiveRun):
    """A ``LiveRun`` in a worker: every recording is applied here and kept for the server to collect."""

    def __post_init__(self):
        super().__post_init__()
        self._calls: list[tuple] = []
        self._calls_lock = threading.Lock()

    def _keep(self, name: str, *args, **kwargs) -> None:
        with self._calls_lock:
            self._calls.append((name, args, kwargs))

    def drain(self) -> list[tuple]:
        """The calls recorded since the last drain, oldest first."""
        with self._calls_lock:
            calls, self._calls = self._calls, []
        return calls

    def set_status(self, status, **fields):
        super().set_status(status, **fields)
        if status in ("paused", "running"):  # the server decides every other status itself
            self._keep("set_status", status, at=time.time())

    def built(self, data_source: str, steering: Steering | None, batch_size: int | None = None) -> None:
        super().built(data_source, steering, batch_size)
        self._keep("built", data_source, describe_steering(steering), batch_size)


def _recording(name: str):
    def method(self, *args, **kwargs):
        if name in _STAMPED:
            kwargs.setdefault("at", time.time())
        getattr(LiveRun, name)(self, *args, **kwargs)
        self._keep(name, *args, **kwargs)

    method.__name__ = name
    return method


for _name in REPLAYED:
    if _name not in ("set_status", "built"):
        setattr(RecordingRun, _name, _recording(_name))


# ---- steering across the process boundary ---------------------------------------------
def _plain(value):
    """A knob's value as plain Python (a float, not a numpy float32)."""
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value.item() if hasattr(value, "item") else value


def describe_steering(steering: Steering | None) -> dict | None:
    """What the server needs to offer a worker's steering: knobs (range, value now) and single steps."""
    if steering is None:
        return None
    return {
        "knobs": {name: (knob.param, _plain(knob.get())) for name, knob in steering.knobs.items()},
        "single_steps": {name: (s.label, s.networks) for name, s in steering.single_steps.items()},
    }


class RemoteSteering(Steering):
    """The server's view of a worker's steering: checks changes there, shows the values the worker applied."""

    def __init__(self, description: dict):
        self.values = {name: value for name, (_, value) in description["knobs"].items()}
        knobs = {
            name: Knob(param, (lambda n=name: self.values[n]), (lambda v, n=name: self.values.__setitem__(n, v)))
            for name, (param, _) in description["knobs"].items()
        }
        singles = {
            name: SingleStep(label, _in_the_worker, networks)
            for name, (label, networks) in description["single_steps"].items()
        }
        super().__init__(knobs, singles)


def _in_the_worker() -> None:
    raise RuntimeError("a single step of a run in a worker is taken there: put it on the run's commands")


def replay(run: LiveRun, calls: list[tuple]) -> None:
    """Apply a worker's recorded calls to the server's ``run`` (and so to its store); unknown names are refused."""
    for name, args, kwargs in calls:
        if name not in REPLAYED:
            raise ValueError(f"a worker asked to replay {name!r}, which is not a recording method")
        if name == "set_status" and (len(args) != 1 or args[0] not in ("paused", "running") or set(kwargs) - {"at"}):
            raise ValueError(f"a worker may say paused or running, not {str(args)[:40]}")  # the server ends runs
        if name == "built":
            if len(args) != 3:
                raise ValueError(f"a worker's 'built' is a data source, steering and a batch size, not {args!r:.60}")
            data_source, description, batch_size = args
            if batch_size is not None and not (type(batch_size) is int and 0 < batch_size <= 1_000_000):
                batch_size = None  # the worker runs a visitor's code: a batch size that is no count is dropped
            run.built(data_source, RemoteSteering(description) if description else None, batch_size)
            continue
        try:
            call = _SIGNATURES[name].bind(run, *args, **kwargs)
        except TypeError as exc:
            raise ValueError(f"a worker's {name!r} does not fit the method: {exc}") from None
        at = call.arguments.get("at")
        if at is not None and not (type(at) in (int, float) and math.isfinite(at)):
            call.arguments["at"] = None  # no time (a visitor's code sent it): the server's clock, not a NaN pace
        getattr(run, name)(*call.args[1:], **call.kwargs)
        if name == "set_status" and run.writer is not None:  # paused or running again: the store says so
            if args[0] == "paused":
                run.writer.pause()
            else:
                run.writer.set_progress(status=args[0])
                run.writer.flush(force=True)
        elif name == "record_event" and isinstance(run.steering, RemoteSteering) and args[1] == "steer":
            payload = args[3] if len(args) > 3 else kwargs.get("payload")
            run.steering.values.update(payload or {})  # what the worker applied is what the page shows


class Relay:
    """Passes what a person asks of the server's run on to its worker, each change once."""

    def __init__(self, run: LiveRun, send: Callable[[tuple], None]):
        self.run, self.send = run, send
        self.stopped = False
        self.paused = False

    def __call__(self) -> None:
        run = self.run
        if run.stop_event.is_set() and not self.stopped:
            self.send(("control", "stop"))
            self.stopped = True
        paused = not run.resume_event.is_set()
        if paused != self.paused and not self.stopped:
            self.send(("control", "pause" if paused else "resume"))
            self.paused = paused
        while not run.commands.empty():  # steering changes and single steps, in order
            self.send(("command", run.commands.get_nowait()))


def apply_request(run: LiveRun, message: tuple) -> None:
    """In the worker: apply one request the ``Relay`` sent (a control, or a steering command)."""
    from runtime.training.control_gate import apply_control

    kind, arg = message
    if kind == "control" and arg in ("stop", "pause", "resume"):
        apply_control(run, arg)
    elif kind == "command" and isinstance(arg, tuple) and arg and arg[0] in ("set", "single"):
        run.commands.put(arg)
    else:
        raise ValueError(f"unknown request for a worker's run: {message!r}")


# What the server may rebuild from a worker's messages besides plain data (numbers, strings, bytes, tuples,
# lists, dicts): a knob's ParamSpec, and numpy scalars. Anything else a message names is refused: unpickling
# must never call code a person's process chose (an object's __reduce__ would run in the server).
_ALLOWED = {
    ("trainers.config", "ParamSpec"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class RefusedMessage(ValueError):
    """A worker sent something that is not plain data."""


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise RefusedMessage(f"a worker's message names {module}.{name}, which the lab does not rebuild")
        return super().find_class(module, name)


def loads(data: bytes):
    """A worker's message, rebuilt as plain data only (see ``_ALLOWED``)."""
    return _PlainUnpickler(io.BytesIO(data)).load()
