"""Figures shared by every viewer of the same run at the same moment.

Building a Plotly figure for a live run costs tens of milliseconds (validation, then
``to_dict`` when Streamlit serialises it), paid once a second by each viewer, with the
training thread waiting on the GIL meanwhile. Viewers of one run within a refresh get
the same snapshot (``LiveRun.shared_snapshot``), so its figure is built once and handed
to all of them (``charts.FrozenFigure`` also keeps its ``to_dict``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable

import plotly.graph_objects as go

KEEP = 64
_cache: OrderedDict[Hashable, go.Figure] = OrderedDict()
_lock = threading.Lock()


def shared(key: Hashable, build: Callable[[], go.Figure]) -> go.Figure:
    """The figure for ``key`` (which must name everything it shows), built by the first viewer to ask."""
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    figure = build()
    with _lock:
        _cache[key] = figure
        while len(_cache) > KEEP:
            _cache.popitem(last=False)
    return figure
