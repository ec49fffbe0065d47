"""Runs in worker processes: the server's side (the child's is ``runtime/workers/worker.py``).

A person's own code, and every run of a shared demo, trains in a child process, never
in a thread of the server: a step that never returns, a loop at a module's top level, a
segfault or an out-of-memory kill then ends one run, not the lab. Children come from a
forkserver that imported torch, keras and the lab's code once (``WorkerPool``), so a
run starts about as fast as in a thread.

``train_in_worker`` is a run's slot thread in the server: it starts the child, replays
what the child records onto the server's ``LiveRun`` (runtime/workers/remote.py; the page and
the store see it like any run), forwards Stop, Pause and steering (from this server's
pages, and from other processes through the store), and watches the child. Stop first
asks (the batch ends, the model is saved); a child that has not reached a point where
it can stop ``stop_grace`` seconds later is killed, and the run says so. The run's time
limits are kept here too, so a step that never returns cannot outlast them. A child
that dies ends its run as failed, naming the signal. When the server exits, its
children are ended with it.

The child runs a person's code as the server's user: this is fault isolation, not a
security boundary (README, "Security").
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing import forkserver, popen_forkserver, spawn
from multiprocessing.context import ForkServerProcess
from pathlib import Path

from runtime.record.live import LiveRun
from runtime.store.run_store import RunStore
from runtime.training.cadence import Cadence
from runtime.training.control_gate import apply_control
from runtime.training.heartbeat import Heartbeat
from runtime.training.job import fail, finish
from runtime.training.limits import Limits
from runtime.workers.remote import RefusedMessage, Relay, loads, replay
from runtime.workers.worker import Task, descendants, end_descendants

PRELOAD = ["torch", "keras", "trainers", "runtime.workers.worker"]  # imported once, by the forkserver
POLL_S = 0.05  # how often the slot thread looks at its child
SAVE_GRACE_S = 60.0  # after the training loop has stopped: time left to write the last grid and save the model
WARM_TIMEOUT_S = 300.0  # the forkserver's imports; a first run waits at most this long for them
CONTROLS_EVERY_S = 1.0  # how often requests other processes left in the store are looked for
FINAL_STATUSES = ("completed", "stopped", "diverged", "failed")  # what a worker may report
MAX_MESSAGE = 64 * 2**20  # bytes: a message larger than this ends the run (grids are ~50 KB)

SIGNALS = {  # what a person should know about the usual ways a process is ended
    "SIGKILL": "the system may have run out of memory (the kernel's OOM killer sends it), or someone killed it",
    "SIGSEGV": "a crash in native code (a C extension, or torch itself)",
    "SIGABRT": "it aborted (os.abort(), or a failed check in native code)",
    "SIGBUS": "a crash in native code (bad memory access)",
    "SIGTERM": "someone asked it to end",
}

_LAUNCH = threading.Lock()


class _Popen(popen_forkserver.Popen):
    """A forkserver child that does not import the parent's main module again.

    multiprocessing re-imports ``__main__`` in every child. Under Streamlit that is app.py
    (Streamlit puts the page script there) or the ``streamlit`` console script: either would
    load the whole UI into every worker. The targets here live in importable modules.
    """

    def _launch(self, process_obj):
        original = spawn.get_preparation_data

        def without_main(name):
            data = original(name)
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
            return data

        with _LAUNCH:
            spawn.get_preparation_data = without_main
            try:
                super()._launch(process_obj)
            finally:
                spawn.get_preparation_data = original


class WorkerProcess(ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _Popen(process_obj)


class WorkerPool:
    """Where workers come from: a forkserver with torch, keras and the lab preloaded, started once."""

    def __init__(self):
        self.context = multiprocessing.get_context("forkserver")
        self._warming: threading.Thread | None = None
        self._problem: BaseException | None = None
        self._lock = threading.Lock()
        self.live: set[Worker] = set()
        self.closing = False  # the server is exiting: its runs are left for the next start to mark interrupted
        # Registered after multiprocessing's own exit handler, so it runs first (atexit is last in, first
        # out): that handler joins every child, and would wait forever for a run whose step never returns.
        atexit.register(self.end_all)

    def warm(self) -> threading.Thread:
        """Start the forkserver and let it import torch and keras (~5 s), in the background, once."""
        with self._lock:
            if self._warming is None:
                self._warming = threading.Thread(target=self._warm, name="worker-pool-warm", daemon=True)
                self._warming.start()
            return self._warming

    def _warm(self) -> None:
        from runtime.workers import worker

        try:
            self.context.set_forkserver_preload(PRELOAD)
            forkserver.ensure_running()
            child = WorkerProcess(target=worker.ready, name="lab-worker-warm", daemon=True)
            child.start()
            child.join(WARM_TIMEOUT_S)
        except BaseException as exc:  # noqa: BLE001  (kept for the run that needs a worker: it says why)
            self._problem = exc

    def start(self, task: Task) -> "Worker":
        from runtime.workers import worker

        warming = self.warm()
        warming.join(WARM_TIMEOUT_S)  # the first run waits for the preload; the later ones find it done
        if warming.is_alive() or self._problem is not None:
            problem = self._problem
            if problem is not None:  # the next run tries again (a fork refused once, a full disk): not until a restart
                with self._lock:
                    self._warming, self._problem = None, None
            raise RuntimeError(f"No worker process could be started ({problem or 'the forkserver is stuck'}).")
        records_in, records_out = self.context.Pipe(duplex=False)  # the child writes, the server reads
        requests_in, requests_out = self.context.Pipe(duplex=False)  # the server writes, the child reads
        # Not a daemon: a person's code may start processes of its own (a DataLoader's workers).
        process = WorkerProcess(
            target=worker.main, args=(task, records_out, requests_in), name=f"lab-run-{task.run_id}", daemon=False
        )
        process.start()
        records_out.close()  # the child holds its ends; ours close so that its death reads as EOF
        requests_in.close()
        started = Worker(process, records_in, requests_out)
        self.live.add(started)
        return started

    def release(self, worker: "Worker") -> None:
        """The run is over: end the child if it lingers (threads its code left running), close its pipes."""
        worker.join(1.0)
        worker.end()
        worker.close()
        self.live.discard(worker)

    def end_all(self) -> None:
        """The server is exiting: end every child (its runs are marked interrupted at the next start)."""
        self.closing = True
        for worker in list(self.live):
            worker.end(term_wait=0.2)
            worker.close()


@dataclass(eq=False)
class Worker:
    """One child training one run, and the server's ends of its pipes."""

    process: multiprocessing.process.BaseProcess
    records: object  # Connection: the child's recorded calls and outcome come in here
    requests: object  # Connection: stop, pause and steering go out here
    # The child's exit status is read from a pipe; two threads reading it at once (the slot thread and the
    # exit handler) would leave one with end-of-file, which multiprocessing reports as exit code 255.
    _polling: threading.Lock = field(default_factory=threading.Lock)

    def alive(self) -> bool:
        with self._polling:
            return self.process.is_alive()

    def join(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` s for the child to end; its exit code (None while it runs)."""
        with self._polling:
            self.process.join(timeout)
            return self.process.exitcode

    def receive(self, timeout: float) -> tuple[list, bool]:
        """(messages now waiting, whether the child's end is closed)."""
        messages = []
        try:
            if self.records.poll(timeout):
                while self.records.poll(0):
                    messages.append(loads(self.records.recv_bytes(MAX_MESSAGE)))
        except OSError as exc:
            if "bad message length" in str(exc):  # multiprocessing's words for one over the maximum
                raise RefusedMessage(f"a message of over {MAX_MESSAGE // 2**20} MB") from None
            return messages, True
        except EOFError:
            return messages, True
        return messages, False

    def send(self, message: tuple) -> None:
        try:
            self.requests.send(message)
        except (BrokenPipeError, OSError):
            pass  # the child is gone: the slot thread sees it on its next look

    def resident_mb(self) -> float | None:
        """Memory of the child and every process below it (a fork does not escape the cap), each counted by
        its proportional share of the pages it shares (Linux's PSS): a DataLoader's workers share torch's."""
        total = 0.0
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            try:
                with open(f"/proc/{pid}/smaps_rollup") as fh:
                    total += next(int(line.split()[1]) for line in fh if line.startswith("Pss:")) / 1024
            except (OSError, ValueError, IndexError, StopIteration):
                continue
        return total or None

    def end(self, term_wait: float = 1.0) -> None:
        """End the child and everything it started: every process below it (those that left its process
        group included: the child adopts orphans, see worker._become_subreaper), then the group itself,
        SIGTERM first, then SIGKILL. A child that died first (a segfault, ``os._exit``, the OOM killer) may
        have left processes in its group: they are killed too (orphans, nothing else would end them)."""
        pid = self.process.pid
        if pid is None:
            return
        if self.alive():
            end_descendants(pid)
        for sig, wait in ((signal.SIGTERM, term_wait), (signal.SIGKILL, 5.0)):
            if not self.alive():
                break
            try:
                os.killpg(pid, sig)  # the child leads its group (os.setsid in worker.main)
            except (ProcessLookupError, PermissionError):
                self.process.kill() if sig == signal.SIGKILL else self.process.terminate()
            self.join(wait)
        try:  # the child is gone; its group lives on while anything is left in it (so its id is not reused)
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # nothing was left

    def close(self) -> None:
        for conn in (self.records, self.requests):
            conn.close()


def death(exitcode: int | None) -> str:
    """How a child that sent no outcome ended, in words."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:  # a real-time signal has no name
            name = f"{-exitcode}"
        why = SIGNALS.get(name) or signal.strsignal(-exitcode) or "a signal"
        return f"The process training this run was killed by signal {name} ({why}). What it recorded is kept."
    if exitcode is None:
        return "The process training this run closed its connection to the lab without finishing, so it was ended."
    return f"The process training this run exited (code {exitcode}) before it finished. What it recorded is kept."


@dataclass(frozen=True)
class WorkerSettings:
    stop_grace: float = 5.0  # seconds from Stop until code that has not stopped is ended with its process
    memory_mb: int | None = None  # what a worker may allocate beyond its start (LAB_RUN_MEMORY_MB)
    placement_s: float = 120.0  # Ray: an actor the cluster has not placed by then fails its run


def train_in_worker(
    run: LiveRun,
    store: RunStore,
    folder: Path,
    cadence: Cadence,
    limits: Limits,
    threads: int,
    pool: WorkerPool,
    settings: WorkerSettings = WorkerSettings(),
    spec_module: str | None = None,
) -> None:
    """The process backend: train ``run`` in a worker; the outcome is in ``run.status`` and the store."""
    if run.stop_event.is_set():  # stopped while it was being handed a slot
        finish(store, run, "stopped")
        return
    run.memory_mb = settings.memory_mb
    worker = None
    problem: Exception | None = None
    try:
        run.set_status("running", started=time.time())
        store.update_run(run.id, status="running", started=run.started, heartbeat=run.started)
        run.writer = store.writer(run.id)
        with Heartbeat(store.path, run.id):  # the server beats for its worker
            task = Task(
                run.id,
                run.variant,
                run.config,
                cadence,
                limits,
                threads,
                str(folder),
                run.started,
                batch_size=run.batch_size,
                memory_mb=settings.memory_mb,
                spec_module=spec_module,
                env=dict(os.environ),
            )
            worker = pool.start(task)
            run.worker_pid = worker.process.pid
            status, fields = _supervise(run, worker, settings, limits)
        saved = folder / "model.keras"
        fields["artifact"] = str(saved) if fields.pop("saved", False) and saved.is_file() else None
        run.writer.close()
    except Exception as exc:  # noqa: BLE001  (the store failed, or no worker could start: the run says why)
        problem = exc
    finally:
        run.writer = None
        run.steering = None
        if worker is not None:  # ended before the run is over: a Delete then finds no process writing its folder
            pool.release(worker)
    if pool.closing:  # its child was ended because the server is exiting, not for anything the run did:
        return  # the next start marks it interrupted (it would read "killed by signal SIGTERM" otherwise)
    if problem is not None:
        fail(store, run, problem)
    else:
        finish(store, run, status, **fields)


def _deadline(limits: Limits) -> float | None:
    """When the server asks a run to stop whatever its code does: its time limit (pauses included, and the
    pause limit on top where pauses are not counted); the grace follows. The worker stops it first, between
    batches, where it can."""
    if not limits.run_minutes or not (limits.count_pauses or limits.pause_minutes):
        return None  # pauses without a limit: only the worker can tell training time from paused time
    minutes = limits.run_minutes + (0.0 if limits.count_pauses else limits.pause_minutes)
    return time.monotonic() + 60 * minutes


def _supervise(run: LiveRun, worker: Worker, settings: WorkerSettings, limits: Limits) -> tuple[str, dict]:
    """Relay between ``run`` and its worker until the worker reports its outcome, dies or is ended."""
    relay = Relay(run, worker.send)
    stop_asked: float | None = None
    next_memory_look = next_controls_look = 0.0
    deadline = _deadline(limits)
    while True:
        try:
            messages, closed = worker.receive(POLL_S)
        except (RefusedMessage, pickle.UnpicklingError, EOFError, ValueError) as exc:
            worker.end()
            return "failed", {"error": f"The run's process sent the lab something it does not take ({exc})."}
        if (result := _handle(run, messages)) is not None:
            return result
        now = time.monotonic()
        if run.writer is not None and now >= next_controls_look:  # Stop or Pause from another server process
            next_controls_look = now + CONTROLS_EVERY_S
            for action in run.writer.controls(every_s=0.0):
                apply_control(run, action)
        if deadline is not None and now > deadline and not run.stop_event.is_set():
            run.limit_reason = limits.stop_reason(0, 60 * limits.run_minutes + 1)
            run.stop_event.set()
        relay()
        if run.stop_event.is_set() and stop_asked is None:
            stop_asked = now
        if closed or not worker.alive():
            exitcode = worker.join(1)
            if (result := _drain(run, worker)) is not None:  # it reported, then ended, between two looks
                return result
            return "failed", {"error": death(exitcode)}
        if stop_asked is not None:
            # The grace runs from the Stop, or from the last validation batch fit() ran after it (for at most
            # SAVE_GRACE_S); saving the model, once it has begun, has a grace of its own.
            if run.saving_since:
                ends = run.saving_since + SAVE_GRACE_S
            else:
                ends = max(stop_asked, run.working_at or 0.0) + settings.stop_grace
                ends = min(ends, stop_asked + max(SAVE_GRACE_S, settings.stop_grace))
            if now > ends:
                worker.end()
                _drain(run, worker)
                return "stopped", {"error": _ended_after_stop(run, settings.stop_grace)}
        if settings.memory_mb and now >= next_memory_look:
            next_memory_look = now + 0.5
            resident = worker.resident_mb()
            if resident is not None and resident > settings.memory_mb + BASELINE_RESIDENT_MB:
                worker.end()
                _drain(run, worker)
                return "failed", {
                    "error": f"The run used {resident:,.0f} MB of memory, more than its cap of {settings.memory_mb:,} "
                    "MB (LAB_RUN_MEMORY_MB) over what a worker starts with, so its process was ended. Use smaller "
                    "batches or a smaller model. What it recorded is kept."
                }


BASELINE_RESIDENT_MB = 400.0  # what a worker holds before it builds anything (torch, Keras, the lab)


def _ended_after_stop(run: LiveRun, grace: float) -> str:
    if run.limit_reason:
        return f"{run.limit_reason} Its code did not stop within {grace:g} s after, so its process was ended."
    if not run.stop_seen:
        return (
            f"Stopped: the step did not return within {grace:g} s of Stop (your code reached no point where it "
            "could stop: a batch's end, or a fit() call), so its process was ended. What it recorded until then "
            "is kept (the model was not saved)."
        )
    if not run.saving_since and run.working_at and time.monotonic() - run.working_at < grace:  # still validating
        return (
            f"Stopped: training stopped, but fit()'s validation went on for over {SAVE_GRACE_S:g} s after Stop, so "
            "its process was ended. What it recorded is kept (the model was not saved)."
        )
    if not run.saving_since:
        return (
            f"Stopped: training stopped, but your code went on and did not end within {grace:g} s of Stop, so its "
            "process was ended. What it recorded is kept (the model was not saved)."
        )
    return f"Stopped: saving took longer than {SAVE_GRACE_S:g} s, so its process was ended. What it recorded is kept."


def _handle(run: LiveRun, messages: list) -> tuple[str, dict] | None:
    """Replay recorded calls onto ``run``; the outcome (status, fields) if the worker sent it.

    The worker runs a person's code: what it sends is checked, as any input (a status it may not
    report is refused; the model's path is the server's own, not one the worker names).
    """
    for message in messages:
        kind, body = message if isinstance(message, tuple) and len(message) == 2 else (None, None)
        if kind == "calls" and isinstance(body, list):
            replay(run, body)
        elif kind == "result" and isinstance(body, dict):
            status = body.get("status")
            if status not in FINAL_STATUSES:
                return "failed", {
                    "error": f"The worker reported an outcome the lab does not know ({str(status)[:40]!r})."
                }
            fields = {k: body.get(k) if isinstance(body.get(k), str) else None for k in ("error", "traceback")}
            return status, {**fields, "saved": body.get("saved") is True}
    return None


def _drain(run: LiveRun, worker: Worker) -> tuple[str, dict] | None:
    """What the child sent before it ended (nothing, where what is left is refused: the run ends anyway)."""
    try:
        return _handle(run, worker.receive(0)[0])
    except (RefusedMessage, pickle.UnpicklingError, EOFError, ValueError):
        return None


def spec_module_of(variant: str) -> str | None:
    """The module that defines a registered variant (a worker imports it if its registry lacks the variant)."""
    import trainers

    spec = trainers.VARIANTS.get(variant)
    module = getattr(spec.build, "__module__", None) if spec is not None else None
    return module if module and module in sys.modules else None
