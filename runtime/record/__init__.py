"""What a run has recorded, in memory: the curves' buckets (``curves``), the run as it trains
(``live.LiveRun``: its curves, grids, events, status) and the read-only view pages draw
(``snapshot.Snapshot``). ``live`` hands every record to the store's writer as well.
"""
