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
