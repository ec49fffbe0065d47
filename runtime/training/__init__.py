"""The training side: what runs inside ``fit()`` and beside it, wherever the run trains.

``job.fit_run`` builds a variant and calls ``fit`` with the lab's callbacks (``stream``): they
share a ``cursor`` and turn each batch into curve points (``metric_stream``), grids and scores
(``samples``), and obey Stop, Pause, steering and the demo's limits (``control_gate``,
``limits``) at the pace ``cadence`` sets; ``heartbeat`` tells other
processes the run is alive; ``lab_callback.LabCallback`` is the same for a person's own script.
Never imports the serving side (``runtime.serving``) or a page.
"""
