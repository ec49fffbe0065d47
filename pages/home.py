"""Page: home (what the lab is, device, MNIST, variants, recent runs)."""

from ui.home import render

render()
