"""The training side: what runs inside ``fit()`` and beside it, wherever the run trains.

``job.fit_run`` builds a variant and calls ``fit``; ``stream.StreamCallback`` turns each batch
into curve points, grids and scores and obeys Stop, Pause, steering and the demo's limits
(``stream_controls``, ``limits``) at the pace ``cadence`` sets; ``heartbeat`` tells other
processes the run is alive; ``lab_callback.LabCallback`` is the same for a person's own script.
Never imports the serving side (``runtime.serving``) or a page.
"""
