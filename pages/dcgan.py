"""Page: the 'dcgan' training-step variant (all of it lives in ui.variant_page)."""

from ui.variant_page import render

render("dcgan")
