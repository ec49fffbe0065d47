"""Text for numbers, durations and statuses, as every page writes them."""

from __future__ import annotations

import re

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
    if seconds < 9.95:
        return f"{max(seconds, 0.0):.1f}s"  # a run of 0.3 s did not take "0s"
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


_MARKDOWN = set("\\`*_{}[]()#+-.!|<>~:$=")


_ZWSP = "\u200b"  # a zero-width space: invisible, but it breaks what Markdown would turn into a link or icon
_ENDS_A_PHRASE = {"", " ", "'", '"', ")", ",", ".", ";"}  # after ":" or "@": no link, icon or colour follows


def plain(text) -> str:
    """``text`` (anything a visitor could have typed or linked) shown as written: every Markdown
    character escaped, and the autolinks (``http://``, ``www.``, ``a@b``) and Streamlit's
    ``:icon:``/``:color[...]`` directives broken with a zero-width space. It cannot become a
    link, an image, an icon or a heading. A colon that ends a phrase ("column 27: expected ':'")
    starts none of these and keeps no zero-width space (it would be copied with the message)."""
    text = " ".join(str(text).split())  # no line breaks: no headings or lists either
    out = []
    for i, ch in enumerate(text):
        if ch in ":@":
            after = text[i + 1 : i + 2]
            out.append("\\" + ch + ("" if after in _ENDS_A_PHRASE else _ZWSP))
        elif ch in _MARKDOWN:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return re.sub(r"(?i)w(?=ww\\\.)", "w" + _ZWSP, "".join(out))


def code(value, limit: int = 80) -> str:
    """``value`` as an inline code span, shortened to ``limit`` characters (safe for any text)."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    fence = "`" * (max(len(run) for run in re.findall("`+", text)) + 1) if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
