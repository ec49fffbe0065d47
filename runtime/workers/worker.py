"""A run in a worker process of its own: the child's side (the server's is ``runtime/workers/processes.py``).

The server starts ``main`` in a child of a forkserver that imported torch, keras and the
lab's code once, so a child is ready to build its model within ~0.1 s. The child trains
the run with ``job.fit_run``, the same function a server thread or a Ray actor runs,
into a ``RecordingRun``: a sender thread ships the recorded calls to the server every
``SEND_EVERY_S``, a receiver thread applies what the server forwards (stop, pause,
steering). The child saves the model itself and sends the outcome last.

The child leads a process group of its own, so ending it ends whatever it started; it
caps its own memory where asked (``RLIMIT_DATA`` at what it holds when it starts plus
``memory_mb``: a runaway allocation raises ``MemoryError`` there, which the run reports,
instead of waking the host's OOM killer); and if the server goes away its end of the
pipes closes and the child exits.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import resource
import signal
import threading
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import torch

import trainers
from runtime.training.cadence import Cadence
from runtime.training.job import Outcome, fit_run, save_model, unsaved
from runtime.training.limits import Limits
from runtime.workers.allocator import keep_tensor_memory
from runtime.workers.remote import RecordingRun, apply_request

SEND_EVERY_S = 0.05  # how often recorded calls go to the server (the page redraws every ~0.5 s)
SERVER_GONE = 70  # exit status of a worker whose server went away
PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to train one run (it travels pickled to the child)."""

    run_id: str
    variant: str
    config: dict
    cadence: Cadence
    limits: Limits
    threads: int  # torch threads
    folder: str  # where the model is saved
    started: float
    batch_size: int | None = None
    memory_mb: int | None = None  # what the worker may allocate beyond what it holds at start (None: no cap)
    spec_module: str | None = None  # a module registering the variant, where the forkserver's registry lacks it
    env: dict = field(default_factory=dict)  # the server's environment now (the forkserver's is from its start)


def data_megabytes() -> float:
    """This process's data memory now (heap and anonymous mappings: what ``RLIMIT_DATA`` counts)."""
    with open("/proc/self/status") as fh:
        line = next(line for line in fh if line.startswith("VmData:"))
    return int(line.split()[1]) / 1024


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, theirs, ...), from /proc: those that left its process group
    (``setsid``) included."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, pending = [], [pid]
    while pending:
        for child in parents.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def end_descendants(pid: int | None = None) -> None:
    """Kill every process below ``pid`` (default: this one): what a person's code started must not outlive
    its run (a CPU burner left behind would starve every later run)."""
    for child in descendants(pid or os.getpid()):
        try:
            os.kill(child, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _become_subreaper() -> None:
    """Processes this worker's code starts, and then orphans, are adopted by the worker rather than by init,
    so ``end_descendants`` still finds them (Linux's PR_SET_CHILD_SUBREAPER)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # another system: the process group still catches most of them


def cap_memory(megabytes: int | None) -> bool:
    """Let this process allocate ``megabytes`` more data memory than it holds now (torch and Keras are
    ~400 MB of it before a model is built), not the libraries' code.

    Not on a GPU: CUDA maps large ranges of its own, and the server watches resident memory there instead.
    """
    if not megabytes or torch.cuda.is_available():
        return False
    limit = int((data_megabytes() + megabytes) * 2**20)
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))  # hard too: the code may not raise it again
    return True


def _environment(env: dict) -> None:
    """The server's environment as it is now (the forkserver's is from when it started): its values, and
    none of the lab's own variables it has unset since. What the preloaded libraries set stays."""
    for name in [n for n in os.environ if n not in env and (n.startswith("LAB_") or n in ("MNIST_DIR", "KERAS_HOME"))]:
        del os.environ[name]
    os.environ.update(env)


def _register(task: Task) -> None:
    """Make the run's variant known here: one registered after the forkserver started (a test's) is
    imported from its module, which defines it as ``SPEC`` or in ``SPECS``."""
    if task.variant in trainers.VARIANTS or not task.spec_module:
        return
    import importlib

    module = importlib.import_module(task.spec_module)
    for spec in [getattr(module, "SPEC", None), *getattr(module, "SPECS", [])]:
        if spec is not None and spec.key == task.variant and spec.key not in trainers.VARIANTS:
            trainers.register(spec)


class _Link:
    """The worker's two pipes: recorded calls out (a sender thread), requests in (a receiver thread)."""

    def __init__(self, run: RecordingRun, out: Connection, inbox: Connection):
        self.run, self.out, self.inbox = run, out, inbox
        self.done = threading.Event()
        self.sender = threading.Thread(target=self._send_loop, name="worker-send", daemon=True)
        self.receiver = threading.Thread(target=self._receive_loop, name="worker-receive", daemon=True)

    def start(self) -> None:
        self.sender.start()
        self.receiver.start()

    def _send(self, message) -> None:
        try:
            self.out.send_bytes(pickle.dumps(message))  # read with remote.loads: plain data only
        except (BrokenPipeError, EOFError, OSError):
            _gone()  # nobody reads this run any more: stop using the machine

    def _send_loop(self) -> None:
        while not self.done.wait(SEND_EVERY_S):
            if calls := self.run.drain():
                self._send(("calls", calls))

    def _receive_loop(self) -> None:
        while True:
            try:
                message = self.inbox.recv()
            except (EOFError, OSError):
                if not self.done.is_set():
                    _gone()
                return
            try:
                apply_request(self.run, message)
            except ValueError:
                pass  # not a request this worker knows: ignored, never executed

    def finish(self, result: dict) -> None:
        """Send what is left, then the outcome: the last message."""
        self.done.set()
        self.sender.join()
        if calls := self.run.drain():
            self._send(("calls", calls))
        self._send(("result", result))


def _gone() -> None:
    """The server went away: end what the code started, then this process."""
    end_descendants()
    os._exit(SERVER_GONE)


def main(task: Task, out: Connection, inbox: Connection) -> None:
    """The worker's body: train ``task``'s run, save its model, report the outcome, whatever the code does."""
    os.setsid()  # a process group of its own: ending the run ends whatever its code started
    _become_subreaper()
    run = RecordingRun(
        task.run_id, task.variant, task.config, batch_size=task.batch_size, status="running", started=task.started
    )
    run.memory_mb = task.memory_mb
    link = _Link(run, out, inbox)
    link.start()  # before the memory cap: a thread that cannot start would hang, silently
    outcome, saved = Outcome("failed", "The worker stopped before it reported anything."), False
    try:
        _environment(task.env)
        torch.set_num_threads(task.threads)
        if torch.cuda.is_available():
            torch.backends.cudnn.benchmark = True  # fixed shapes: as the server sets for its own threads
        keep_tensor_memory()
        _register(task)
        cap_memory(task.memory_mb)
        outcome = fit_run(run, task.cadence, task.limits)
    except SystemExit as exc:  # the code called sys.exit(): this run ends, and says so
        outcome = Outcome("failed", f"Your code called sys.exit({exc.code!r}): the run ended there.")
    except BaseException as exc:  # noqa: BLE001  (KeyboardInterrupt raised by the code, a failed set-up)
        outcome = Outcome("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
    run.stopping()  # no step runs any more
    end_descendants()  # what the code started ends with its run (DataLoader workers, threads' children)
    if outcome.model is not None:
        run.saving()  # the server allows saving its own time after a Stop
        try:
            save_model(outcome.model, Path(task.folder))
            saved = True
        except Exception as exc:  # noqa: BLE001  (a model Keras cannot serialise)
            outcome.error = " ".join(x for x in (outcome.error, unsaved(exc)) if x)
    link.finish({"status": outcome.status, "error": outcome.error, "traceback": outcome.traceback, "saved": saved})


def ready() -> None:
    """A no-op child: starting one makes the forkserver import what it preloads (warming the pool)."""
