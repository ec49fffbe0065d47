"""Who is this browser? A random token kept in a cookie, so ownership survives reloads.

With ``LAB_PRIVATE_RUNS=1`` (a hosted demo) a run can be stopped, paused or deleted
only from the browser that started it; every other visitor, a shared link's included,
watches. Streamlit reads cookies only from the request that opens a session
(``st.context.cookies``) and cannot set one, so the first session makes a token and
a one-line script stores it in the browser for the sessions that follow.
"""

from __future__ import annotations

import re
import secrets

import streamlit as st

COOKIE = "lab_visitor"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_KEY = "_visitor_token"


def _cookie_token() -> str | None:
    try:
        token = st.context.cookies.get(COOKIE)
    except Exception:  # no browser request behind this session (AppTest, a bare script run)
        return None
    return token if isinstance(token, str) and _TOKEN.match(token) else None


def visitor() -> str:
    """This browser's token: from its cookie when it has one, else made for this session."""
    token = st.session_state.get(_KEY)
    if token is None:
        token = st.session_state[_KEY] = _cookie_token() or secrets.token_urlsafe(24)
    return token


def remember_visitor() -> None:
    """Store the token in a cookie if the browser did not send it (needed only for private runs)."""
    token = visitor()
    if _cookie_token() == token:
        return
    st.sidebar.html(
        f"<script>document.cookie = '{COOKIE}={token}; path=/; max-age=31536000; SameSite=Lax';</script>",
        unsafe_allow_javascript=True,
    )
