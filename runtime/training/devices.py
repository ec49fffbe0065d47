"""Where runs train, in words, and the library versions recorded with each run."""

from __future__ import annotations

import os
import platform

import keras
import numpy as np
import torch


def device_info() -> str:
    """The device runs train on, in words."""
    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    return f"CPU ({torch.get_num_threads()} torch threads of {os.cpu_count()} cores)"


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
