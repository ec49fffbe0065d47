"""The app's pages, built from the variant registry, and the check every page script makes first.

Streamlit decides once per server whether an app uses the legacy ``pages/`` folder
mode: if the first visitor opens a page URL (``/some_page``) before any session has run
``app.py``, Streamlit runs ``pages/some_page.py`` alone. ``require_app`` notices that the
page runs outside ``app.py`` and, through the public API, declares the app's
navigation (which ends the legacy mode for the server) and reruns, so ``app.py``
runs and picks the page.
"""

from __future__ import annotations

import importlib
import threading
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import streamlit as st

from trainers import VARIANTS

ROOT = Path(__file__).resolve().parents[1]  # where app.py and pages/ are

_app = threading.local()  # set while app.py runs a page, in the session's script thread


def app_pages() -> dict[str, list]:
    """Navigation sections: home, one page per registered variant (by its section), runs."""
    sections: dict[str, list] = {
        "Lab": [st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)],
    }
    for spec in VARIANTS.values():
        sections.setdefault(spec.section, []).append(page_of(spec.key))
    sections["Results"] = [st.Page("pages/runs.py", title="Runs", icon=":material/table_rows:")]
    return sections


def _render_variant(key: str) -> None:
    """What a page stub does, for a variant that has none: run ``ui.variant_page.render``.

    Imported when the page runs, as Streamlit imports a stub's module: the variant page
    imports this module for its links, so a static import here would run both ways.
    """
    importlib.import_module("ui.variant_page").render(key)


def page_of(key: str):
    """The page of variant ``key``: its stub ``pages/<key>.py``, or, for a variant registered
    without one (a plug-in, a test's throwaway variant), the same page served from a function."""
    spec = VARIANTS[key]
    if (ROOT / "pages" / f"{key}.py").is_file():
        return st.Page(f"pages/{key}.py", title=spec.title, icon=spec.icon)
    return st.Page(partial(_render_variant, key), title=spec.title, icon=spec.icon, url_path=key)


@contextmanager
def running_app():
    """Mark the page run by ``app.py`` as running inside the app."""
    _app.active = True
    try:
        yield
    finally:
        _app.active = False


def require_app() -> None:
    """First call of every page script: hand over to ``app.py`` if it did not run this page."""
    if getattr(_app, "active", False):
        return
    st.navigation(app_pages())
    st.rerun()
