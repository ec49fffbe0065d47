"""Page: your own training step, edited in the browser (all of it lives in ui.code_page)."""

from ui.code_page import render

render("own_step")
