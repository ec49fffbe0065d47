"""The serving side, in the Streamlit server: ``manager.RunManager`` (what pages call) and its
``control.RunControls`` (stop, pause, steer, rename, delete), the queue and slots (``scheduler``),
who may do what (``access``), the store through a full disk (``store_guard``), sweeps, and the
``LAB_*`` environment (``settings``). Starts runs through ``runtime.workers``.
"""
