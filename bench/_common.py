"""Shared set-up for the benchmarks: device choice, MNIST, a timing callback."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def choose_device(device: str) -> None:
    """Pin the run to 'cpu' or 'cuda' before Keras/torch pick one."""
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    shared = ROOT.parent / "shared" / "data" / "mnist"
    if "MNIST_DIR" not in os.environ and shared.is_dir():
        os.environ["MNIST_DIR"] = str(shared)


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    from trainers.precision import cpu_model

    return f"CPU {cpu_model()} x{os.cpu_count()} ({torch.get_num_threads()} threads)"


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


class StepTimer:
    """Keras callback: seconds inside each train step, and wall time between step ends."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.step_seconds: list[float] = []
                self.ends: list[float] = []

            def on_train_batch_begin(self, batch, logs=None):
                sync()
                self.t0 = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                sync()
                now = time.perf_counter()
                self.step_seconds.append(now - self.t0)
                self.ends.append(now)

        return _Timer()


def median(values) -> float:
    values = sorted(values)
    n = len(values)
    return (values[n // 2] + values[(n - 1) // 2]) / 2
