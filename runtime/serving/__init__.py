"""The serving side, in the Streamlit server: ``manager.RunManager`` (what pages call), the queue
and slots (``scheduler``), who may do what (``access``), sweeps, and the ``LAB_*`` environment
(``settings``). Starts runs through ``runtime.workers``.
"""
