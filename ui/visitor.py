"""Who is this browser, and from where? For private runs and per-visitor limits.

A random token in the ``lab_visitor`` cookie names a browser: the lab's middleware
(``ui/server.py``) sets it on the first page load, HttpOnly (page scripts cannot read
it), and over HTTPS ``SameSite=None; Secure; Partitioned`` (see ``ui/server.py``). Streamlit hands a session the
cookies of the request that opened it (``st.context.cookies``); a session without one
(a test, an app mounted elsewhere) gets a token of its own for its lifetime.

The client address backs up the cookie for the per-visitor cap, so that clearing
cookies does not buy more runs: the connection's address, or behind proxies that are
trusted (``LAB_TRUST_PROXY=N``) the entry of ``X-Forwarded-For`` the N-th proxy from the
right appended (entries to its left are the client's to write). IPv6 addresses count
by their /64. Without trusted proxies, a loopback or private address is not counted: it is
a proxy's or a NAT's, shared by every visitor behind it.
"""

from __future__ import annotations

import re
import secrets

import streamlit as st

from runtime.serving.access import address_group, forwarded_client, seen_directly
from ui.lab import get_manager

COOKIE = "lab_visitor"
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")  # always fullmatch()
_KEY = "_visitor_token"


def _cookie_token() -> str | None:
    try:
        token = st.context.cookies.get(COOKIE)
    except Exception:  # no browser request behind this session (AppTest, a bare script run)
        return None
    return token if isinstance(token, str) and TOKEN.fullmatch(token) else None


def visitor() -> str:
    """This browser's token: from its cookie when it has one, else made for this session."""
    token = st.session_state.get(_KEY)
    if token is None:
        token = st.session_state[_KEY] = _cookie_token() or secrets.token_urlsafe(24)
    return token


def forwarded_for(headers) -> str | None:
    """``X-Forwarded-For`` as one list, however many header lines carry it (HTTP reads lines of one name as
    one comma-joined list, in order): a proxy may append its own line rather than extend the client's,
    and the first line alone is the one a client wrote."""
    lines = headers.get_all("X-Forwarded-For")
    return ", ".join(lines) if lines else None


def client_address() -> str | None:
    """Where this session connects from, as the per-address cap counts it (see the module's docstring)."""
    try:
        proxies = get_manager().trust_proxy
        if proxies:  # never the connection's address: behind a proxy that is the proxy's, everyone's at once
            address = address_group(forwarded_client(forwarded_for(st.context.headers), proxies))
        else:
            address = seen_directly(st.context.ip_address)  # a private one is a proxy's or a NAT's: not a visitor's
    except Exception:  # no request behind this session
        return None
    return address if isinstance(address, str) and address else None
