"""Rows describing runs for tables: status, variant, key settings, final figures."""

from __future__ import annotations

import time

from runtime.status import ACTIVE
from trainers import VARIANTS
from ui.fmt import fmt_duration, fmt_setting


def settings_text(variant: str, config: dict) -> str:
    """The settings that tell this run apart (its variant's key settings; every setting if it is unknown)."""
    spec = VARIANTS.get(variant)
    shown = spec.distinguishing(config) if spec else config
    return ", ".join(fmt_setting(k, v) for k, v in shown.items())


def final_text(last: dict[str, float], variant: str) -> str:
    spec = VARIANTS.get(variant)
    names = [n for n in (spec.metrics if spec else ()) if n in last]
    names += [n for n in last if n.startswith("final/")]
    names += [n for n in ("epoch/test_acc",) if n in last]
    return ", ".join(f"{n.split('/')[-1]}={last[n]:.4g}" for n in names)


def run_rows(runs: list[dict], last_values, owner: str | None = None) -> list[dict]:
    """Table rows for ``runs`` (as ``RunManager.list`` gives them); ``last_values(id)`` gives final figures.

    With ``owner`` (this browser's visitor hash, private runs only) a column says which runs are its own.
    """
    rows = []
    now = time.time()
    for r in runs:
        spec = VARIANTS.get(r["variant"])
        progress = f"{r['steps_done']:,}/{r['total_steps']:,}" if r.get("total_steps") else f"{r['steps_done']:,}"
        finished = r["status"] not in ACTIVE
        rows.append(
            {
                **({"yours": r.get("visitor") == owner} if owner else {}),
                "run": r["id"],
                "status": r["status"],
                "variant": spec.title if spec else r["variant"],
                "settings": settings_text(r["variant"], r["config"]),
                "final metrics": final_text(last_values(r["id"]), r["variant"]) if finished else "",
                "steps": progress,
                "ms/step": round(r["ms_per_step"], 1) if r.get("ms_per_step") else None,
                "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created"])),
                "age": fmt_duration(now - r["created"]),
            }
        )
    return rows
