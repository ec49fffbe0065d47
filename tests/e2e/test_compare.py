"""The compare view in a real browser: the guide's and the tuned GAN step on a wall-time axis."""

import re

import pytest

from tests.e2e.helpers import settle, start, status_text, wait_until

pytestmark = pytest.mark.e2e

# 128 steps each (some 10-20 s on 2 cores), long enough for a score in between and a final one.
TINY = "num_images=2048&batch_size=16&latent_dim=16&epochs=1&quality_samples=200"


def axis_title(page) -> str:
    return page.evaluate(
        """() => { const plot = document.querySelector('.js-plotly-plot');
                   if (!plot || !plot.layout) return '';
                   const axes = Object.keys(plot.layout).filter(k => k.startsWith('xaxis'));
                   const titled = axes.map(k => plot.layout[k].title).find(t => t && t.text);
                   return titled ? titled.text : ''; }"""
    )


def last_x(page, guide: bool) -> float:
    """The last x of the line of the guide's run (its name says step=guide), or of the tuned one."""
    return page.evaluate(
        """(guide) => { const plot = document.querySelector('.js-plotly-plot');
                        const t = plot.data.find(d => d.mode === 'lines' && !d.fill && d.name.startsWith('GAN on MNIST')
                                                      && d.name.includes('step=guide') === guide);
                        const x = t.x.length !== undefined ? t.x : t.x._inputArray;
                        return x[x.length - 1]; }""",
        guide,
    )


def test_compare_guide_and_tuned_gan_on_a_wall_time_axis(server, browser, shot):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    ids = []
    for step in ("guide", "tuned"):
        url = start(page, server, f"{TINY}&step={step}")
        ids.append(re.search(r"run=(\w+)", url).group(1))
        wait_until(lambda: "Completed" in status_text(page), 180, f"the {step} run to complete")
    page.goto(f"{server}/runs?runs={','.join(ids)}")
    page.get_by_text("Comparing 2 runs").wait_for(timeout=30_000)
    settle(page, anchor="Settings that differ")
    page.get_by_role("radio", name="Wall time").first.click()  # a segmented control's options are radios
    wait_until(lambda: axis_title(page).startswith("wall-clock time"), 15, "the wall-time axis")
    guide, tuned = last_x(page, guide=True), last_x(page, guide=False)
    assert 0 < tuned < guide  # same number of steps, reached sooner by the tuned step
    page.get_by_text("Sample grids at the same step").scroll_into_view_if_needed()
    page.get_by_text("Comparing 2 runs").scroll_into_view_if_needed()
    shot(page, "compare-wall-time")

    # The view a screen holds: losses, the discriminator's verdicts and the two quality panels, two by two.
    titles = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.annotations.map(a => a.text)")
    assert [re.sub("<[^>]+>", "", t) for t in titles] == [
        "losses",
        "D's verdict: P(real) on real vs generated",
        "quality: legible and class balance",
        "quality: Fréchet distance (lower is better)",
    ]
    # The two runs are the GAN page's "guide's step and tuned one": their figures table comes first.
    assert page.locator("p", has_text="The figures this comparison is about").count() == 1
    page.get_by_text("Smoothing").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    box = page.locator(".js-plotly-plot").first.bounding_box()
    assert box["height"] <= 720 and box["y"] + box["height"] <= 1000, box  # on the screen with its controls
    shot(page, "compare-panels")


def most_points(page) -> int:
    """Points in the longest line of the first chart (0 while none is drawn)."""
    return page.evaluate(
        """() => { const p = document.querySelector('.js-plotly-plot'); if (!p || !p.data) return 0;
                   return p.data.filter(d => d.mode === 'lines')
                     .map(d => d.x.length !== undefined ? d.x.length : (d.x._inputArray || []).length)
                     .reduce((a, b) => Math.max(a, b), 0); }"""
    )


def test_the_guide_and_the_tuned_step_in_one_click_compare_live(server, browser, shot):
    """The GAN page's with-and-without: the compare view opens at once, draws the curves as soon as the
    runs have some (none yet when it opens) and keeps them growing while they train."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{server}/gan?num_images=4096&batch_size=16&latent_dim=16&epochs=5")
    settle(page)
    page.get_by_role("button", name="Run the guide's step and the tuned one").click()
    page.wait_for_url(re.compile(r"/runs\?runs=\w+(,|%2C)\w+"), timeout=15_000)
    page.locator("p", has_text="The figures this comparison is about").first.wait_for(timeout=30_000)
    wait_until(lambda: most_points(page) >= 2, 60, "the curves of both runs")
    seen = most_points(page)
    wait_until(lambda: most_points(page) > seen, 20, "the curves to grow while the runs train")
    shot(page, "compare-live")
