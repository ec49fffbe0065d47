"""The training job a run's thread executes: build, fit, save, record the outcome.

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
from runtime.cadence import Cadence
from runtime.heartbeat import Heartbeat
from runtime.lazy_logs import fit_callbacks, read_interval
from runtime.limits import Limits
from runtime.live import LiveRun
from runtime.store import RunStore
from runtime.stream import StreamCallback
from trainers import precision

log = logging.getLogger("keras_lab")


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


def explain_store_error(exc: Exception) -> str | None:
    """A store failure in words a person can act on (the real SQLite error kept), or None."""
    if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
        return (
            f"The run store is full ({exc}): the disk has no space left, or the store reached its size limit. "
            "Free some space (delete old runs on the Runs page, or set LAB_MAX_STORE_MB so the oldest go "
            "first). What was recorded before is kept."
        )
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
        return f"The run store cannot be written ({exc}): point LAB_HOME at a writable folder."
    return None


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


@dataclass
class Outcome:
    """How a run's fit() ended, before anything is written to a store."""

    status: str  # completed, stopped, diverged, failed
    error: str | None = None
    traceback: str | None = None
    model: keras.Model | None = None  # the trained model, to save (completed or stopped runs)


def explain_failure(run: LiveRun, exc: Exception) -> tuple[str, str]:
    """(message, details) of a failure: the store's words, the variant's (a person's own frames), or Python's."""
    message, details = f"{type(exc).__name__}: {exc}", tb.format_exc()
    spec = trainers.VARIANTS.get(run.variant)
    if explain_store_error(exc):
        message = explain_store_error(exc)
    elif spec is not None and spec.explain_error is not None:
        message, details = spec.explain_error(run.config, exc)
    return message, details


def fit_run(run: LiveRun, cadence: Cadence, limits: Limits = Limits()) -> Outcome:
    """Build the run's experiment and fit it in this thread (a server's, or a Ray worker's).

    Records go to ``run`` (and its writer, if it has one). Keras's seed and dtype policy
    are thread-local: they are set here, and the policy is put back afterwards.
    """
    try:
        with precision.policy(run.config.get("precision", "float32")):
            spec = trainers.get_variant(run.variant)
            keras.utils.set_random_seed(run.config.get("seed", 1337))
            experiment = spec.build(run.config)
            run.data_source = experiment.data_source
            if run.writer is not None:
                run.writer.set_progress(data_source=experiment.data_source)
            run.steering = experiment.steering
            callback = StreamCallback(
                run,
                sample_images=experiment.sample_images,
                grid_columns=experiment.grid_columns,
                cadence=cadence,
                epoch_report=experiment.epoch_report,
                quality_report=experiment.quality_report,
                limits=limits,
                read_every=read_interval(),
            )
            # On a GPU, no device sync per step: Keras is given a list that leaves batch logs as tensors.
            callbacks = fit_callbacks(experiment.model, experiment.fit_kwargs, [callback], lazy=callback.read_every > 0)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*shuffle=True.*DataLoader")
                experiment.model.fit(**experiment.fit_kwargs, callbacks=callbacks, verbose=0)
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
            return Outcome(status, run.limit_reason, model=experiment.model)
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
                    note = f"The trained model could not be saved as .keras ({type(exc).__name__}: {exc})."
            run.writer.close()
    except Exception as exc:  # the store itself failed (a full disk): the run ends with the real reason
        if run.writer is not None:
            try:
                run.writer.close()
            except Exception:
                pass
        message, details = explain_failure(run, exc)
        finish(store, run, "failed", error=message, traceback=details)
        return
    finally:
        run.writer = None
    error = " ".join(x for x in (outcome.error, note) if x) or None
    finish(store, run, outcome.status, error=error, traceback=outcome.traceback, artifact=artifact)
