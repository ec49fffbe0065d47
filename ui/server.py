"""The lab's own HTTP routes and middleware, served beside Streamlit's by ``st.App`` (see app.py).

- ``GET /api/runs/<id>/metrics.csv`` streams a run's metrics as CSV, read from the store
  a window of steps at a time: a million-step run downloads with bounded memory, which
  a download button (whose file Streamlit holds in memory whole) cannot do.
- ``VisitorCookie`` gives a browser its visitor token (``ui/visitor.py``) in an HttpOnly
  cookie on the first response it gets. Over HTTPS the cookie is ``SameSite=None; Secure;
  Partitioned``, so that it is sent inside a cross-site iframe (a Hugging Face Space shows
  the app in one), in the embedding site's partition only; over plain HTTP ``SameSite=Lax``.
  Cookies are read as Starlette reads them: another site's cookie with a space or a quote
  in it does not hide the lab's.
"""

from __future__ import annotations

import secrets
import sqlite3

from starlette.middleware import Middleware
from starlette.requests import Request, cookie_parser
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from runtime.serving.settings import trusted_proxies
from runtime.store import exports
from runtime.store.run_store import StoreUnavailable, explain_store_error
from ui.lab import get_manager
from ui.visitor import COOKIE, TOKEN


def csv_url(run_id: str) -> str:
    """Where the page links to a run's CSV (relative, so it works under a base URL path too)."""
    return f"api/runs/{run_id}/metrics.csv"


async def metrics_csv(request: Request):
    run_id = request.path_params["run_id"]
    try:
        manager = get_manager()
        found = manager.valid_id(run_id) and manager.store.get_run(run_id) is not None
    except (StoreUnavailable, sqlite3.Error) as exc:  # a damaged store: say so, not "500 Internal Server Error"
        words = explain_store_error(exc) if isinstance(exc, sqlite3.Error) else str(exc)
        return PlainTextResponse(words or f"The run store cannot be read ({exc}).", status_code=503)
    if not found:
        return PlainTextResponse(f"There is no run {run_id[:40]!r} here.", status_code=404)
    return StreamingResponse(
        exports.metrics_csv_download(manager.store.pinned(), run_id),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{run_id}-metrics.csv"'},
    )


def lab_routes() -> list[Route]:
    return [Route("/api/runs/{run_id}/metrics.csv", metrics_csv)]


def _https(scope) -> bool:
    """Whether the browser reached us over HTTPS: directly, or (trusted proxies only) as the proxy says."""
    if scope.get("scheme") == "https":
        return True
    if trusted_proxies():  # what the outermost proxy saw (a client claiming https only gets a cookie it cannot use)
        headers = dict(scope.get("headers") or [])
        return headers.get(b"x-forwarded-proto", b"").split(b",")[0].strip() == b"https"
    return False


def visitor_cookie(https: bool) -> str:
    """A new visitor token as a Set-Cookie value (see the module's docstring for the attributes)."""
    cookie = f"{COOKIE}={secrets.token_urlsafe(24)}; Path=/; Max-Age=31536000; HttpOnly"
    return cookie + ("; SameSite=None; Secure; Partitioned" if https else "; SameSite=Lax")


class VisitorCookie:
    """ASGI middleware: a request without a valid visitor cookie gets one in its response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        jar = {}
        for name, value in scope.get("headers") or []:
            if name == b"cookie":
                jar.update(cookie_parser(value.decode("latin-1")))
        if TOKEN.fullmatch(jar.get(COOKIE, "")):
            await self.app(scope, receive, send)
            return
        cookie = visitor_cookie(_https(scope))

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def lab_middleware() -> list[Middleware]:
    return [Middleware(VisitorCookie)]
