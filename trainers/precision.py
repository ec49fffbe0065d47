"""Precision of a run: float32, or mixed bfloat16 where the hardware computes it natively.

Mixed bfloat16 keeps the weights and the losses in float32 and computes layers in
bfloat16 (Keras's ``mixed_bfloat16`` dtype policy). It pays off only where the
hardware has bfloat16 units: a GPU that supports it, or a CPU with AVX-512 BF16 or
AMX; elsewhere torch emulates it, slower than float32. ``bf16_support`` says which.

Keras's dtype policy is thread-local state; ``policy`` sets it for a block and puts
back what was there, so a bfloat16 run does not leave other runs of the process in
bfloat16.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache

import keras
import torch

PRECISIONS = ("float32", "bfloat16")
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}
CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def bf16_support() -> tuple[bool, str]:
    """(available, why): whether this machine computes bfloat16 natively, in words."""
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        if torch.cuda.is_bf16_supported(including_emulation=False):  # not emulated (pre-Ampere)
            return True, f"{name} computes bfloat16 natively"
        return False, f"{name} has no native bfloat16 (it arrived with NVIDIA Ampere)"
    found = [flag for flag in CPU_FLAGS if flag in cpu_flags()]
    if found:
        return True, f"the CPU ({cpu_model()}) has {', '.join(found)}"
    return False, (
        f"the CPU ({cpu_model()}) has neither AVX-512 BF16 nor AMX: torch would emulate bfloat16, slower than float32"
    )


def check_precision(precision: str) -> None:
    """``ValueError`` saying why, if ``precision`` is not worth running here."""
    if precision == "bfloat16":
        available, why = bf16_support()
        if not available:
            raise ValueError(f"precision=bfloat16 is not offered on this machine: {why}. Use float32.")


@contextmanager
def policy(precision: str = "float32"):
    """Run the block under the Keras dtype policy of ``precision``, then restore the previous one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(POLICIES[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
