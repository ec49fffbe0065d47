"""Runs in worker processes: the server's side (the child's is ``runtime/worker.py``).

A person's own code, and every run of a shared demo, trains in a child process, never
in a thread of the server: a step that never returns, a loop at a module's top level, a
segfault or an out-of-memory kill then ends one run, not the lab. Children come from a
forkserver that imported torch, keras and the lab's code once (``WorkerPool``), so a
run starts about as fast as in a thread.

``train_in_worker`` is a run's slot thread in the server: it starts the child, replays
what the child records onto the server's ``LiveRun`` (runtime/remote.py; the page and
the store see it like any run), forwards Stop, Pause and steering, and watches the
child. Stop first asks (the batch ends, the model is saved); a child whose step has not
returned ``stop_grace`` seconds later is killed, and the run says so. A child that dies
ends its run as failed, naming the signal.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing import forkserver
from pathlib import Path

from runtime.cadence import Cadence
from runtime.heartbeat import Heartbeat
from runtime.job import explain_failure, finish
from runtime.limits import Limits
from runtime.live import LiveRun
from runtime.remote import Relay, replay
from runtime.store import RunStore
from runtime.worker import Task

# Imported once, by the forkserver. "__main__" first: under `streamlit run` (a console script) a child would
# otherwise run that script again as `__mp_main__` (importing Streamlit, ~1 s) before every run.
PRELOAD = ["__main__", "torch", "keras", "trainers", "runtime.worker"]
POLL_S = 0.05  # how often the slot thread looks at its child
SAVE_GRACE_S = 60.0  # after the step returned from a Stop: time left to write the grid and save the model
KILL_WAIT_S = 1.0  # from SIGTERM to SIGKILL

SIGNALS = {  # what a person should know about the usual ways a process is ended
    "SIGKILL": "the system may have run out of memory (the kernel's OOM killer sends it), or someone killed it",
    "SIGSEGV": "a crash in native code (a C extension, or torch itself)",
    "SIGABRT": "it aborted (os.abort(), or a failed check in native code)",
    "SIGBUS": "a crash in native code (bad memory access)",
    "SIGTERM": "someone asked it to end",
}


class WorkerPool:
    """Where workers come from: a forkserver with torch, keras and the lab preloaded, started once."""

    def __init__(self):
        self.context = multiprocessing.get_context("forkserver")
        self._warming: threading.Thread | None = None
        self._lock = threading.Lock()

    def warm(self) -> threading.Thread:
        """Start the forkserver and let it import torch and keras (~5 s), in the background, once."""
        with self._lock:
            if self._warming is None:
                self._warming = threading.Thread(target=self._warm, name="worker-pool-warm", daemon=True)
                self._warming.start()
            return self._warming

    def _warm(self) -> None:
        from runtime import worker

        self.context.set_forkserver_preload(PRELOAD)
        forkserver.ensure_running()
        child = self.context.Process(target=worker.ready, name="lab-worker-warm", daemon=True)
        child.start()
        child.join()

    def start(self, task: Task) -> "Worker":
        from runtime import worker

        self.warm().join()  # the first run waits for the preload; the later ones find it done
        records_in, records_out = self.context.Pipe(duplex=False)  # the child writes, the server reads
        requests_in, requests_out = self.context.Pipe(duplex=False)  # the server writes, the child reads
        process = self.context.Process(
            target=worker.main, args=(task, records_out, requests_in), name=f"lab-run-{task.run_id}", daemon=False
        )
        process.start()
        records_out.close()  # the child holds its ends; ours close so that its death reads as EOF
        requests_in.close()
        return Worker(process, records_in, requests_out)


@dataclass
class Worker:
    """One child training one run, and the server's ends of its pipes."""

    process: multiprocessing.process.BaseProcess
    records: object  # Connection: the child's recorded calls and outcome come in here
    requests: object  # Connection: stop, pause and steering go out here

    def receive(self, timeout: float) -> tuple[list, bool]:
        """(messages now waiting, whether the child's end is closed)."""
        messages = []
        try:
            if self.records.poll(timeout):
                while self.records.poll(0):
                    messages.append(self.records.recv())
        except (EOFError, OSError):
            return messages, True
        return messages, False

    def send(self, message: tuple) -> None:
        try:
            self.requests.send(message)
        except (BrokenPipeError, OSError):
            pass  # the child is gone: the slot thread sees it on its next look

    def resident_mb(self) -> float | None:
        try:
            with open(f"/proc/{self.process.pid}/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            return None

    def end(self) -> None:
        """End the child and everything it started (its process group): SIGTERM, then SIGKILL."""
        for sig, wait in ((signal.SIGTERM, KILL_WAIT_S), (signal.SIGKILL, 5.0)):
            if not self.process.is_alive():
                break
            try:
                os.killpg(self.process.pid, sig)  # the child leads its group (os.setsid in worker.main)
            except (ProcessLookupError, PermissionError):
                self.process.kill() if sig == signal.SIGKILL else self.process.terminate()
            self.process.join(wait)

    def close(self) -> None:
        for conn in (self.records, self.requests):
            conn.close()
        self.process.join(5)


def death(exitcode: int | None) -> str:
    """How a child that sent no outcome ended, in words."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        why = SIGNALS.get(name, signal.strsignal(-exitcode) or "")
        return f"The process training this run was killed by signal {name} ({why}). What it recorded is kept."
    return f"The process training this run exited (code {exitcode}) before it finished. What it recorded is kept."


@dataclass(frozen=True)
class WorkerSettings:
    stop_grace: float = 5.0  # seconds from Stop until a step that has not returned is ended with its process
    memory_mb: int | None = None  # a worker's memory cap (LAB_RUN_MEMORY_MB)
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
            status, fields = _supervise(run, worker, settings)
        run.writer.close()
    except Exception as exc:  # noqa: BLE001  (the store failed, or no worker could start: the run says why)
        if worker is not None:
            worker.end()
        if run.writer is not None:
            try:
                run.writer.close()
            except Exception:  # noqa: BLE001
                pass
        message, details = explain_failure(run, exc)
        finish(store, run, "failed", error=message, traceback=details)
        return
    finally:
        run.writer = None
        run.steering = None
        if worker is not None:
            worker.close()
    finish(store, run, status, **fields)


def _supervise(run: LiveRun, worker: Worker, settings: WorkerSettings) -> tuple[str, dict]:
    """Relay between ``run`` and its worker until the worker reports its outcome, dies or is ended."""
    relay = Relay(run, worker.send)
    stop_asked: float | None = None
    next_memory_look = 0.0
    while True:
        messages, closed = worker.receive(POLL_S)
        if (result := _handle(run, messages)) is not None:
            worker.process.join(10)
            return result
        relay()
        now = time.monotonic()
        if run.stop_event.is_set() and stop_asked is None:
            stop_asked = now
        if closed or not worker.process.is_alive():
            worker.process.join(1)
            if (result := _drain(run, worker)) is not None:  # it reported, then ended, between two looks
                return result
            return "failed", {"error": death(worker.process.exitcode)}
        if stop_asked is not None:
            waited = now - stop_asked
            if (not run.stop_seen and waited > settings.stop_grace) or waited > settings.stop_grace + SAVE_GRACE_S:
                worker.end()
                _drain(run, worker)
                return "stopped", {
                    "error": f"Stopped: the step did not return within {settings.stop_grace:g} s of Stop, so its "
                    "process was ended. What it recorded until then is kept (the model was not saved)."
                    if not run.stop_seen
                    else f"Stopped: saving took longer than {SAVE_GRACE_S:g} s, so its process was ended. "
                    "What it recorded is kept."
                }
        if settings.memory_mb and now >= next_memory_look:
            next_memory_look = now + 0.5
            resident = worker.resident_mb()
            if resident is not None and resident > settings.memory_mb:
                worker.end()
                _drain(run, worker)
                return "failed", {
                    "error": f"The run used {resident:,.0f} MB of memory, more than its cap of {settings.memory_mb:,} "
                    "MB (LAB_RUN_MEMORY_MB), so its process was ended. Use smaller batches or a smaller model. "
                    "What it recorded is kept."
                }


def _handle(run: LiveRun, messages: list) -> tuple[str, dict] | None:
    """Replay recorded calls onto ``run``; the outcome (status, fields) if the worker sent it."""
    for kind, body in messages:
        if kind == "calls":
            replay(run, body)
        elif kind == "result":
            return body["status"], {k: body[k] for k in ("error", "traceback", "artifact")}
    return None


def _drain(run: LiveRun, worker: Worker) -> tuple[str, dict] | None:
    return _handle(run, worker.receive(0)[0])


def spec_module_of(variant: str) -> str | None:
    """The module that defines a registered variant (a worker imports it if its registry lacks the variant)."""
    import trainers

    spec = trainers.VARIANTS.get(variant)
    module = getattr(spec.build, "__module__", None) if spec is not None else None
    return module if module and module in sys.modules else None
