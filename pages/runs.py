"""Page: every run, its curves and grids, comparisons, exports."""

from ui.runs_page import render

render()
