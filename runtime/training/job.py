"""The training job: build, fit, save, record the outcome (``fit_run`` wherever a run trains).

Keras keeps its random seed and dtype policy per thread, so both are set here, in
the training thread. Failures, divergence and stops each leave a clear status and
whatever was recorded until then; the model is saved atomically as ``.keras``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import traceback as tb
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras

import trainers
from runtime.record.live import LiveRun
from runtime.store.run_store import RunStore, explain_store_error
from runtime.training.cadence import Cadence
from runtime.training.heartbeat import Heartbeat
from runtime.training.lazy_logs import fit_callbacks, read_interval
from runtime.training.limits import Limits
from runtime.training.stream import stream_callbacks
from trainers import precision

log = logging.getLogger("keras_lab")


def fail(store: RunStore, run: LiveRun, exc: Exception) -> None:
    """End ``run`` as failed by ``exc`` where training itself could not go on (the store, the worker):
    what its writer still holds is written if it can be, and the reason is the store's or Python's."""
    if run.writer is not None:
        try:
            run.writer.close()
        except Exception:  # noqa: BLE001  (the store that failed may fail again: the run still ends)
            pass
    message, details = explain_failure(run, exc)
    finish(store, run, "failed", error=message, traceback=details)


def finish(store: RunStore, run: LiveRun, status: str, **fields) -> None:
    """End ``run`` with ``status``, in memory and in the store (error, traceback, artifact kept).

    If the store cannot take it (a full disk), the run still ends in memory with the reason.
    """
    run.set_status(status, ended=time.time(), **fields)
    try:
        store.update_run(
            run.id,
            status=status,
            ended=run.ended,
            steps_done=run.step,
            epoch=run.epoch,
            ms_per_step=run.mean_step_ms(),
            **{k: v for k, v in fields.items() if k in ("error", "traceback", "artifact")},
        )
    except sqlite3.Error as exc:
        log.error("run %s ended %s but the store could not record it: %s", run.id, status, exc)


def save_model(model: keras.Model, folder: Path) -> str:
    """Save ``model`` as ``folder/model.keras`` atomically: a temporary file, then a rename."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / "model.keras"
    tmp = folder / f".model-{os.getpid()}-{threading.get_ident()}.keras"  # Keras insists on the suffix
    try:
        model.save(tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return str(final)


def unsaved(exc: Exception) -> str:
    """The note a run keeps when Keras cannot save its model (a custom class without get_config)."""
    text = " ".join(str(exc).split())
    text = text if len(text) <= 240 else text[:239] + "…"
    return f"The trained model could not be saved as .keras ({type(exc).__name__}: {text})."


@dataclass
class Outcome:
    """How a run's fit() ended, before anything is written to a store."""

    status: str  # completed, stopped, diverged, failed
    error: str | None = None
    traceback: str | None = None
    model: keras.Model | None = None  # the trained model, to save (completed or stopped runs)


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says an allocation failed (Python's MemoryError, torch's allocator on the CPU)."""
    return isinstance(exc, MemoryError) or "can't allocate memory" in str(exc) or "out of memory" in str(exc)


def explain_failure(run: LiveRun, exc: Exception) -> tuple[str, str]:
    """(message, details) of a failure: the store's words, the memory cap's, the variant's (a person's
    own frames), or Python's."""
    message, details = f"{type(exc).__name__}: {exc}", tb.format_exc()
    spec = trainers.VARIANTS.get(run.variant)
    if (store_words := explain_store_error(exc)) is not None:
        message = store_words
    elif spec is not None and spec.explain_error is not None:
        message, details = spec.explain_error(run.config, exc)
    if out_of_memory(exc):
        if "CUDA" in str(exc) or type(exc).__name__ == "OutOfMemoryError":
            what, fix = "the GPU's memory", "Use smaller batches or a smaller model"
        elif run.memory_mb:
            what = f"its cap of {run.memory_mb:,} MB (LAB_RUN_MEMORY_MB)"
            fix = "Use smaller batches or a smaller model (or, on your own machine, raise LAB_RUN_MEMORY_MB)"
        else:
            what, fix = "the memory there is", "Use smaller batches or a smaller model"
        message = (
            f"The run ran out of memory: it asked for more than {what}. {fix}. What it recorded is kept. ({message})"
        )
    return message, details


def lab_callbacks(run: LiveRun, cadence: Cadence, limits: Limits, **kwargs) -> list[keras.callbacks.Callback]:
    """The lab's callbacks for one fit() of ``run`` (runtime/training/stream.py)."""
    return stream_callbacks(run, cadence=cadence, limits=limits, read_every=read_interval(), **kwargs)


def fit_run(run: LiveRun, cadence: Cadence, limits: Limits = Limits()) -> Outcome:
    """Build the run's experiment and fit it here: the one way a run trains, wherever it runs (a thread of
    the server, a worker process, a Ray actor).

    Records go to ``run`` (and its writer, if it has one). Keras's seed and dtype policy
    are thread-local: they are set here, and the policy is put back afterwards.
    """
    try:
        with precision.policy(run.config.get("precision", "float32")):
            spec = trainers.get_variant(run.variant)
            keras.utils.set_random_seed(run.config.get("seed", 1337))
            experiment = spec.build(run.config)
            run.built(experiment.data_source, experiment.steering, experiment.batch_size)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*shuffle=True.*DataLoader")
                if experiment.script is not None:  # a script fits its models itself: stream each fit()

                    def stop_point() -> bool:  # a script's fit() call: no step runs there
                        if run.stop_event.is_set():
                            run.stopping()
                            return True
                        return False

                    model = experiment.script(
                        lambda model, images: lab_callbacks(run, cadence, limits, sample_images=images),
                        stop_point,
                    )
                else:
                    model = experiment.model
                    callbacks = lab_callbacks(
                        run,
                        cadence,
                        limits,
                        sample_images=experiment.sample_images,
                        grid_columns=experiment.grid_columns,
                        epoch_report=experiment.epoch_report,
                        quality_report=experiment.quality_report,
                    )
                    # On a GPU, no device sync per step: Keras is given a list that leaves batch logs as tensors.
                    callbacks = fit_callbacks(model, experiment.fit_kwargs, callbacks, lazy=read_interval() > 0)
                    model.fit(**experiment.fit_kwargs, callbacks=callbacks, verbose=0)
            run.stopping()
            if run.diverged_at is not None:
                step, name = run.diverged_at
                return Outcome(
                    "diverged",
                    f"{name} became non-finite at step {step}. Try a smaller learning rate "
                    "or check the data for NaN/inf values.",
                )
            if experiment.final_report is not None:
                run.record_final(experiment.final_report())
            if run.quality_seconds and run.fit_seconds:
                run.record_final({"quality_time_share": run.quality_seconds / run.fit_seconds})
            status = "stopped" if run.stop_event.is_set() else "completed"
            return Outcome(status, run.limit_reason, model=model)
    except Exception as exc:  # any failure ends this run only, with its reason kept
        message, details = explain_failure(run, exc)
        return Outcome("failed", message, details)
    finally:
        run.steering = None  # it holds the model: let the run's memory go


def train(run: LiveRun, store: RunStore, folder: Path, cadence: Cadence, limits: Limits = Limits()) -> None:
    """The thread backend: train ``run`` in this thread; the outcome is in ``run.status`` and the store."""
    if run.stop_event.is_set():  # stopped while it was being handed a slot
        finish(store, run, "stopped")
        return
    try:
        run.set_status("running", started=time.time())
        store.update_run(run.id, status="running", started=run.started, heartbeat=run.started)
        with Heartbeat(store.path, run.id):  # signs of life for other processes
            run.writer = store.writer(run.id)
            outcome = fit_run(run, cadence, limits)
            artifact, note = None, None
            if outcome.model is not None:
                try:
                    artifact = save_model(outcome.model, folder)
                except Exception as exc:  # a model Keras cannot serialise (a custom class without get_config)
                    note = unsaved(exc)
            run.writer.close()
    except Exception as exc:  # the store itself failed (a full disk): the run ends with the real reason
        fail(store, run, exc)
        return
    finally:
        run.writer = None
    error = " ".join(x for x in (outcome.error, note) if x) or None
    finish(store, run, outcome.status, error=error, traceback=outcome.traceback, artifact=artifact)
