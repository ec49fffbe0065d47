"""The lab's own HTTP routes and middleware, served beside Streamlit's by ``st.App`` (see app.py).

- ``GET /api/runs/<id>/metrics.csv`` streams a run's metrics as CSV, read from the store
  a window of steps at a time: a million-step run downloads with bounded memory, which
  a download button (whose file Streamlit holds in memory whole) cannot do.
- ``VisitorCookie`` gives a browser its visitor token (``ui/visitor.py``) in an HttpOnly
  cookie, Secure when the page is served over HTTPS, on the first response it gets.
"""

from __future__ import annotations

import os
import re
import secrets
from http.cookies import CookieError, SimpleCookie

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from runtime import exports
from ui.lab import get_manager
from ui.visitor import COOKIE, TOKEN

RUN_ID = re.compile(r"^[0-9a-f]{12}$")


def csv_url(run_id: str) -> str:
    """Where the page links to a run's CSV (relative, so it works under a base URL path too)."""
    return f"api/runs/{run_id}/metrics.csv"


async def metrics_csv(request: Request):
    run_id = request.path_params["run_id"]
    manager = get_manager()
    if not RUN_ID.match(run_id) or manager.store.get_run(run_id) is None:
        return PlainTextResponse(f"There is no run {run_id[:40]!r} here.", status_code=404)
    store = manager.store.pinned()

    def chunks():
        try:
            yield from exports.metrics_csv_chunks(store, run_id)
        finally:
            store.close()

    return StreamingResponse(
        chunks(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{run_id}-metrics.csv"'},
    )


def lab_routes() -> list[Route]:
    return [Route("/api/runs/{run_id}/metrics.csv", metrics_csv)]


def _https(scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    if os.environ.get("LAB_TRUST_PROXY", "").strip() in ("1", "true", "yes", "on"):
        headers = dict(scope.get("headers") or [])
        return headers.get(b"x-forwarded-proto", b"").split(b",")[0].strip() == b"https"
    return False


class VisitorCookie:
    """ASGI middleware: a request without a valid visitor cookie gets one in its response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        jar = SimpleCookie()
        for name, value in scope.get("headers") or []:
            if name == b"cookie":
                try:
                    jar.load(value.decode("latin-1"))
                except CookieError:
                    pass
        if COOKIE in jar and TOKEN.match(jar[COOKIE].value):
            await self.app(scope, receive, send)
            return
        cookie = f"{COOKIE}={secrets.token_urlsafe(24)}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
        if _https(scope):
            cookie += "; Secure"

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def lab_middleware() -> list[Middleware]:
    return [Middleware(VisitorCookie)]
