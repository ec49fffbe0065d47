"""The lab's own HTTP routes and middleware, served beside Streamlit's by ``st.App`` (see app.py).

- ``GET /api/runs/<id>/metrics.csv`` streams a run's metrics as CSV, read from the store
  a window of steps at a time: a million-step run downloads with bounded memory, which
  a download button (whose file Streamlit holds in memory whole) cannot do.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from runtime import exports
from ui.lab import get_manager

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
