"""The runs page in a real browser: downloads are made on click and arrive intact."""

import json
import re
import time

import pytest

pytestmark = pytest.mark.e2e


def test_downloads_of_a_finished_gan_run(server, browser, tmp_path):
    page = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{server}/gan?num_images=32&batch_size=16&latent_dim=8&epochs=2")
    page.get_by_text("The code that runs").wait_for(timeout=60_000)
    time.sleep(1.5)
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(re.compile(r"[?&]run=\w+"), timeout=15_000)
    run_id = re.search(r"run=(\w+)", page.url).group(1)
    page.get_by_text(re.compile("^Completed")).wait_for(timeout=60_000)

    page.goto(f"{server}/runs?run={run_id}")
    got = {}
    for label in ("Metrics (CSV)", "Config (JSON)", "Last grid (PNG)", "Evolution (GIF)", "Model (.keras)"):
        with page.expect_download(timeout=30_000) as info:
            target = (
                page.get_by_role("link", name=label)
                if label.endswith("(CSV)")
                else page.get_by_role("button", name=label)
            )
            target.click()
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        got[label] = path.read_bytes()
    header = got["Metrics (CSV)"].splitlines()[0].split(b",")
    assert header[:3] == [b"step", b"epoch", b"time_s"] and {b"d_loss", b"g_loss", b"d_real", b"d_fake"} <= set(header)
    assert len(got["Metrics (CSV)"].splitlines()) == 1 + 4  # a header and one row per step (2 epochs of 2)
    assert json.loads(got["Config (JSON)"])["id"] == run_id
    assert got["Last grid (PNG)"].startswith(b"\x89PNG")
    assert got["Evolution (GIF)"].startswith(b"GIF89a")
    assert got["Model (.keras)"].startswith(b"PK")  # a .keras file is a zip archive


def test_with_and_without_class_weights_opens_both_runs_side_by_side(server, browser, shot):
    """One click on the class-weight page: two runs, the compare view, their rare digits' recall in a table."""
    from tests.e2e.helpers import settle, wait_until

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{server}/weighted?epochs=1&batch_size=256")
    settle(page)
    page.get_by_role("button", name="Run with and without class weights").click()
    page.wait_for_url(re.compile(r"/runs\?runs=\w+(,|%2C)\w+"), timeout=15_000)
    page.get_by_text("Comparing 2 runs").wait_for(timeout=30_000)
    table = page.locator("p", has_text="The figures this comparison is about").first
    table.wait_for(timeout=30_000)
    assert "weighting = class_weight vs none" in table.inner_text()
    wait_until(lambda: page.get_by_text("The figures fill in").count() == 0, 120, "both runs to end")
    # The note can be gone for a moment while the page reruns (CI once looked for the names then, before the
    # runs table held them): wait for them rather than count them at once.
    named = page.get_by_text("sample_weight & class_weight, with class weights")
    wait_until(lambda: named.count() >= 1, 30, "the runs' names")
    page.locator(".js-plotly-plot").first.wait_for(timeout=15_000)  # the curves drawn once both ended
    table.scroll_into_view_if_needed()
    shot(page, "with-and-without")


def first_row_cell(page, column: str) -> str:
    """The text of ``column`` in the runs table's first row, from the grid's accessible copy of the
    cells it draws (only the columns in view are there: the run id is scrolled off to the right)."""
    return page.evaluate(
        """(column) => {
             const grid = document.querySelector('[data-testid="stDataFrame"] table[role="grid"]');
             if (!grid) return '';
             const heads = [...grid.querySelectorAll('th[role="columnheader"]')].map(h => h.innerText.trim());
             const row = grid.querySelector('tbody tr');
             const at = heads.indexOf(column);
             return row && at >= 0 ? (row.querySelectorAll('td')[at]?.innerText || '').trim() : '';
           }""",
        column,
    )


def test_the_runs_table_follows_a_training_run_without_a_reload(server, browser, slowness):
    """The steps of a training run grow in the runs table while a person looks at it (its only run)."""
    from tests.e2e.helpers import start, wait_until

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    url = start(page, server, "num_images=8192&batch_size=16&latent_dim=32&epochs=50&quality_samples=0")
    assert re.search(r"run=(\w+)", url)
    page.get_by_role("link", name="Runs").click()
    page.get_by_role("heading", name="Runs").wait_for(timeout=10_000)
    steps = lambda: first_row_cell(page, "steps").replace(",", "")  # noqa: E731
    wait_until(lambda: steps().isdigit(), 20 * slowness, "the run's row")
    first = int(steps())
    wait_until(
        lambda: int(steps() or 0) > first,
        15 * slowness,
        "the steps to grow in the table",
    )
    assert first_row_cell(page, "status") == "running" and "run=" not in page.url  # no reload, no run page
