"""Viewers without a browser: websocket sessions that speak Streamlit's protocol as its page does.

Each viewer opens a page (a ``rerun_script`` back message with the page's name and
query string), then reruns the live fragment whenever the server asked for it
(``auto_rerun``: its fragment id and interval), the way Streamlit's frontend does: the
next rerun no sooner than the interval after the last, and not while one is running.
It reads the step of the newest point of the first chart in each answer. What the
server does per viewer (scripts, snapshots, figures, serialisation, websocket
traffic) is exactly what a browser costs it; drawing the charts is left out, as it
happens on the viewers' own machines. Used by ``bench/viewers.py --protocol``, where
ten Chromium renderers do not fit on a two-core machine beside the server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time

import numpy as np
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


def _values(array) -> np.ndarray:
    """A Plotly JSON array: a plain list, or a typed array (``{"dtype", "bdata"}``)."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray([v for v in array if isinstance(v, (int, float))], dtype=np.float64)


def last_step(spec: str) -> float:
    """The largest last x over a Plotly figure's traces (the newest step drawn), 0 if none."""
    best = 0.0
    for trace in json.loads(spec).get("data", []):
        x = trace.get("x")
        if x is None:
            continue
        values = _values(x)
        if len(values):
            best = max(best, float(values[-1]))
    return best


class ProtocolViewer:
    """One viewer session; ``seen`` is (wall time, newest step) each time the chart showed a newer step."""

    def __init__(self, url: str, page: str, query: str):
        self.url = url.replace("http://", "ws://") + "/_stcore/stream"
        self.page, self.query = page, query
        self.seen: list[tuple[float, float]] = []
        self.reruns = 0
        self.errors: list[str] = []

    def _rerun(self, fragment_id: str = "") -> bytes:
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_name = self.page
        if fragment_id:
            msg.rerun_script.fragment_id = fragment_id
            msg.rerun_script.is_auto_rerun = True
        return msg.SerializeToString()

    async def watch(self, stop: asyncio.Event) -> None:
        async with websockets.connect(self.url, subprotocols=["streamlit"], max_size=None) as ws:
            await ws.send(self._rerun())
            # Each live fragment has its own timer (a page may have several: charts, status).
            intervals: dict[str, float] = {}
            last_sent: dict[str, float] = {}
            running, newest = True, 0.0
            while not stop.is_set():
                if not running:
                    due = [f for f, every in intervals.items() if time.monotonic() - last_sent[f] >= every]
                    if due:
                        await ws.send(self._rerun(due[0]))
                        self.reruns += 1
                        running, last_sent[due[0]] = True, time.monotonic()
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.05)
                except asyncio.TimeoutError:
                    continue
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                kind = msg.WhichOneof("type")
                if kind == "auto_rerun":
                    intervals[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
                    last_sent.setdefault(msg.auto_rerun.fragment_id, time.monotonic())
                elif kind == "script_finished":
                    running = False
                elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    element = msg.delta.new_element
                    if element.WhichOneof("type") == "plotly_chart":
                        try:
                            step = last_step(element.plotly_chart.spec)
                        except (ValueError, KeyError) as exc:
                            self.errors.append(repr(exc)[:200])
                            continue
                        if step > newest:
                            newest = step
                            self.seen.append((time.time(), step))


class ProtocolViewers:
    """``count`` viewers of one page, on an event loop in a thread of their own, until ``close()``."""

    def __init__(self, url: str, page: str, query: str, count: int):
        self.viewers = [ProtocolViewer(url, page, query) for _ in range(count)]
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self._run, name="protocol-viewers", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main():
            results = await asyncio.gather(*(v.watch(self.stop) for v in self.viewers), return_exceptions=True)
            for viewer, result in zip(self.viewers, results):
                if isinstance(result, Exception):
                    viewer.errors.append(repr(result)[:200])

        self.loop.run_until_complete(main())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)
