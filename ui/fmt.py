"""Text for numbers, durations and statuses, as every page writes them."""

from __future__ import annotations

STATUS_ICONS = {  # Material icons: Streamlit ships the font, so they render in every browser
    "queued": ":material/hourglass_top:",
    "running": ":material/play_circle:",
    "paused": ":material/pause_circle:",
    "completed": ":material/check_circle:",
    "stopped": ":material/stop_circle:",
    "failed": ":material/error:",
    "diverged": ":material/trending_up:",
    "interrupted": ":material/power_off:",
}


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def fmt_number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    return f"{text}{unit}"


def fmt_setting(name: str, value) -> str:
    """``name=value``, floats in their shortest form (3e-04 reads as 0.0003)."""
    return f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
