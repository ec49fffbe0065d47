"""The lab's ``LAB_*`` settings from the environment, each checked and explained when wrong.

``settings_from_env()`` returns the ``RunManager``'s keyword arguments or raises
``ValueError`` naming the variable, the value and what to set instead: a hosted demo
started with a typo says so on its page instead of failing later. With
``LAB_PRIVATE_RUNS=1`` (a demo strangers share) the fair-sharing limits default to
values that keep one visitor from holding the lab; locally they default to off.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from runtime.training.cadence import Cadence
from runtime.training.heartbeat import INTERVAL_S, MIN_TIMEOUT_S

MAX_THREADS = 1024


def available_cpus() -> int:
    """CPUs this process may use: the affinity mask and a container's CPU quota (cgroup v2 or v1)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for path, split in (("/sys/fs/cgroup/cpu.max", None), ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "v1")):
        try:
            if split is None:
                quota, period = Path(path).read_text().split()[:2]
            else:
                quota = Path(path).read_text().strip()
                period = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text().strip()
            if quota not in ("max", "-1") and int(period) > 0:
                cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
        except (OSError, ValueError):
            continue
    return max(1, cpus)


def _raw(name: str) -> str:
    return os.environ.get(name, "").strip()


def env_int(name: str, default: int, minimum: int, maximum: int = 10**9) -> int:
    raw = _raw(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        raise ValueError(
            f"{name}={raw[:40]!r} is not valid: set it to a whole number from {minimum} to {maximum:,}, or unset it."
        )
    return value


def env_float(name: str, default: float, minimum: float, maximum: float = 1e9, why: str = "") -> float:
    raw = _raw(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not minimum <= value <= maximum:
        raise ValueError(f"{name}={raw[:40]!r} is not valid: set it to a number from {minimum:g} to {maximum:g}{why}.")
    return value


def env_flag(name: str, default: bool = False) -> bool:
    raw = _raw(name).lower()
    if not raw:
        return default
    if raw in ("0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}={raw[:40]!r} is not valid: set it to 1 (on) or 0 (off), or unset it.")


def trusted_proxies() -> int:
    """``LAB_TRUST_PROXY``: how many proxies of yours stand in front of the lab (0: none, trust no header).

    ``1`` (or true/yes/on): one proxy, which appends the client's address to ``X-Forwarded-For``;
    ``2``: two in a row (say a CDN, then a load balancer); and so on.
    """
    raw = _raw("LAB_TRUST_PROXY").lower()
    if raw in ("", "0", "false", "no", "off"):
        return 0
    if raw in ("1", "true", "yes", "on"):
        return 1
    return env_int("LAB_TRUST_PROXY", 0, 0, 10)


def lab_home(default: Path) -> Path:
    """``LAB_HOME`` (``~`` expanded), checked to be a folder this process can write, or can create."""
    raw = _raw("LAB_HOME")
    try:
        home = Path(raw).expanduser() if raw else default
    except RuntimeError:  # "~name" of a user this system does not have
        raise ValueError(
            f"LAB_HOME={raw[:80]!r} names the home folder of a user this system does not know: "
            "write the folder's full path (or ~/folder for your own home)."
        ) from None
    shown = f"LAB_HOME={raw[:80]!r}" if raw else f"the default run folder {home}"
    if home.exists() and not home.is_dir():
        raise ValueError(f"{shown} is a file, not a folder: point LAB_HOME at a folder for the run store.")
    probe = home
    while not probe.exists():  # the nearest existing parent must let us create the rest
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{shown} cannot be written by this process: point LAB_HOME at a writable folder.")
    return home


def settings_from_env(default_home: Path) -> dict:
    """The ``RunManager``'s settings; ``ValueError`` naming the variable if one is wrong."""
    cadence = Cadence()
    if _raw("LAB_GRID_MIN_SECONDS"):
        seconds = env_float("LAB_GRID_MIN_SECONDS", 2.0, 0.0, 3600.0)
        # 0 means "as often as every step": no time budget either (tests and fast machines).
        cadence = Cadence.every_step() if seconds == 0 else Cadence(min_seconds=seconds)
    private = env_flag("LAB_PRIVATE_RUNS")
    shared = private  # a demo strangers share: fair-sharing limits on by default
    return dict(
        home=lab_home(default_home),
        cadence=cadence,
        max_concurrent=env_int("LAB_MAX_CONCURRENT", 0, 1, 64) or None,  # unset: 1, or a Ray cluster's size
        max_queue=env_int("LAB_MAX_QUEUE", 20, 1, 10_000),
        torch_threads=env_int("LAB_TORCH_THREADS", 0, 0, MAX_THREADS) or None,
        private_runs=private,
        max_per_visitor=env_int("LAB_MAX_PER_VISITOR", 2 if private else 0, 0, 1000) or None,
        allow_code=env_flag("LAB_ALLOW_CODE") if _raw("LAB_ALLOW_CODE") else None,
        limits=dict(
            pause_minutes=env_float("LAB_PAUSE_LIMIT_MINUTES", 10.0 if shared else 0.0, 0.0, 10_000.0),
            run_minutes=env_float("LAB_MAX_RUN_MINUTES", 30.0 if shared else 0.0, 0.0, 100_000.0),
            run_steps=env_int("LAB_MAX_RUN_STEPS", 20_000 if shared else 0, 0, 10**9),
            keep_days=env_float("LAB_KEEP_DAYS", 7.0 if shared else 0.0, 0.0, 100_000.0),
            store_mb=env_float("LAB_MAX_STORE_MB", 1000.0 if shared else 0.0, 0.0, 10**7),
            count_pauses=shared,
        ),
        trust_proxy=trusted_proxies(),
        heartbeat_timeout=env_float(
            "LAB_HEARTBEAT_TIMEOUT",
            30.0,
            MIN_TIMEOUT_S,
            86_400.0,
            f" (runs beat every {INTERVAL_S:g} s: under three beats, live runs would be declared dead)",
        ),
        stop_grace=env_float("LAB_STOP_GRACE_SECONDS", 5.0, 0.5, 600.0),
        ray_placement_seconds=env_float("LAB_RAY_PLACEMENT_SECONDS", 120.0, 1.0, 86_400.0),
        run_memory_mb=_memory_mb(shared),
        **backend_from_env(private),
    )


MIN_RUN_MEMORY_MB = 256  # the smallest variant's model, data and scores
DEMO_RUN_MEMORY_MB = 2048  # a GAN run at batch 64 takes ~0.75 GB beyond a worker's start (scorer included)


def _memory_mb(shared: bool) -> int | None:
    """``LAB_RUN_MEMORY_MB``: what a worker process may allocate beyond what it starts with (~400 MB of torch
    and Keras); 0: no cap; on by default on a shared demo."""
    value = env_int("LAB_RUN_MEMORY_MB", DEMO_RUN_MEMORY_MB if shared else 0, 0, 10**7)
    if 0 < value < MIN_RUN_MEMORY_MB:
        raise ValueError(
            f"LAB_RUN_MEMORY_MB={value} is too small for any run here: set it to {MIN_RUN_MEMORY_MB} or more "
            "(megabytes a run may allocate beyond the ~400 MB a worker starts with), or 0 for no cap."
        )
    return value or None


def backend_from_env(private: bool = False) -> dict:
    """``LAB_BACKEND`` (thread, process or ray) and ``LAB_RAY_ADDRESS``; Ray must be installed to be chosen.

    Unset, a shared demo (``LAB_PRIVATE_RUNS=1``) trains every run in a worker process, a local lab
    its own variants in threads; a demo cannot ask for threads, whose runs Stop cannot always end.
    """
    backend = _raw("LAB_BACKEND").lower() or ("process" if private else "thread")
    if backend not in ("thread", "process", "ray"):
        raise ValueError(
            f"LAB_BACKEND={backend[:40]!r} is not valid: set it to thread (a local lab's default), process "
            "(every run in a worker process; a shared demo's default) or ray."
        )
    if backend == "thread" and private:
        raise ValueError(
            "LAB_BACKEND=thread with LAB_PRIVATE_RUNS=1: a shared demo trains every run in a worker process, "
            "so that Stop always stops and one run cannot take the lab down. Unset LAB_BACKEND (or set process or ray)."
        )
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ValueError(
                "LAB_BACKEND=ray, but Ray is not installed: pip install -r requirements-ray.txt, or unset LAB_BACKEND."
            ) from None
    return {"backend": backend, "ray_address": _raw("LAB_RAY_ADDRESS") or None}
