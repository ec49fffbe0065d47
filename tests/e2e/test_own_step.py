"""Your own step in a real browser: edit the guide's GAN in the code editor, train it,
stop it; the runs page shows the code, the compare view its diff against the template."""

import re
from pathlib import Path

import pytest

from tests.e2e.helpers import chart_points, settle, status_text, wait_until

pytestmark = pytest.mark.e2e
FAILED_SHOTS = Path(__file__).resolve().parent / "screenshots"  # git-ignored, as conftest's shots

SMALL = "template=gan&hp_latent_dim=16&hp_batch_size=32"
ORIGINAL = "labels += self.label_noise * keras.random.uniform"
EDITED = "labels += 2 * self.label_noise * keras.random.uniform"
EDIT = """([before, after]) => {
    const box = document.querySelector('.ace_editor');
    if (!box || !box.env || !box.env.editor) return false;
    const editor = box.env.editor;
    if (!editor.getValue().includes(before)) return false;
    editor.setValue(editor.getValue().replace(before, after), 1);  // as if typed: the component reports it
    return true; }"""


def editor_frame(page):
    """The frame of the streamlit-ace component (a custom component lives in an iframe)."""
    for _ in range(300):
        for frame in page.frames:
            try:
                if frame.evaluate("() => !!document.querySelector('.ace_editor')"):
                    return frame
            except Exception:
                continue
        page.wait_for_timeout(200)
    raise AssertionError("no code editor on the page")


def train_and_stop(page, shot=None):
    """Start, wait for curves and a digit grid, stop; the run's id."""
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(re.compile(r"[?&]run=\w+"), timeout=20_000)
    run_id = re.search(r"run=(\w+)", page.url).group(1)
    try:
        wait_until(lambda: chart_points(page) >= 2, 60, "curves")
        wait_until(lambda: page.get_by_test_id("stImage").count() >= 1, 60, "a digit grid")
    except AssertionError as exc:  # say where the run was: queued, failed, training slowly
        FAILED_SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(FAILED_SHOTS / f"own-step-failed-{run_id}.png"), full_page=True)
        raise AssertionError(f"{exc}; run {run_id}, page status: {status_text(page)!r}") from None
    if shot:
        shot(page, "own-step-edited")
    page.get_by_role("button", name="Stop").click()
    wait_until(lambda: "Stopped" in status_text(page) or "Completed" in status_text(page), 30, "the run to stop")
    return run_id


def test_edit_the_guides_gan_train_it_and_compare_with_the_template(local_server, browser, shot):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{local_server}/own_step?{SMALL}")
    settle(page, anchor="The contract")
    editor_frame(page)
    plain_run = train_and_stop(page)

    page.goto(f"{local_server}/own_step?{SMALL}")  # the template again, unchanged
    settle(page, anchor="The contract")
    assert editor_frame(page).evaluate(EDIT, [ORIGINAL, EDITED]), "the template's label-noise line was not found"
    wait_until(lambda: page.get_by_test_id("stStatusWidget").count() == 0, 30, "the edit to reach the server")
    settle(page, anchor="The contract")
    edited_run = train_and_stop(page, shot)

    page.goto(f"{local_server}/runs?run={edited_run}")
    page.get_by_text("The code of this run").click()
    page.get_by_text(EDITED).first.wait_for(timeout=30_000)  # the exact source, as it ran

    page.goto(f"{local_server}/runs?runs={plain_run},{edited_run}")
    page.get_by_text("Comparing 2 runs").wait_for(timeout=60_000)
    settle(page, anchor="Settings that differ")
    diff = page.locator("code").filter(has_text="+++").first.inner_text()
    assert f"-        {ORIGINAL}" in diff and f"+        {EDITED}" in diff
    shot(page, "own-step-compare-diff")


GUIDE_SCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "guide_gan_script.py"


def test_the_guides_gan_script_uploaded_as_printed_trains_live_and_stops(local_server, browser, shot):
    """The guide's final section saved as a .py file, exactly as printed (its own data loading,
    compile and top-level fit()): it runs in a worker process with the lab's callback on its fit()."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{local_server}/own_step")
    settle(page, anchor="The contract")
    page.locator("input[type='file']").set_input_files(str(GUIDE_SCRIPT))
    page.get_by_text("so the lab runs it as it is").wait_for(timeout=30_000)  # no build_model: run as a script
    picker = page.get_by_role("combobox", name="Start from a template")  # names the file, not the last template
    assert (
        picker.input_value() == ""
        and picker.get_attribute("placeholder") == f"{GUIDE_SCRIPT.name} (loaded from a file)"
    )
    settle(page, anchor="The contract")
    run_id = train_and_stop(page, lambda p, _: shot(p, "own-step-guide-script"))
    page.goto(f"{local_server}/runs?run={run_id}")
    page.get_by_text("Stopped").first.wait_for(timeout=30_000)
    page.get_by_text(f"file={GUIDE_SCRIPT.name}").first.wait_for(state="attached", timeout=30_000)  # its name
    wait_until(lambda: chart_points(page) >= 2, 60, "the stored curves")
    layouts = " ".join(page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(p => p.innerText)"))
    assert "d_loss" in layouts and "g_loss" in layouts  # its two curves, read back from the store


def test_a_template_picked_after_a_loaded_file_replaces_it_everywhere(local_server, browser):
    """After a file was loaded, picking a template emptied the editor of it but the uploader still showed
    the file, as if it were what the editor held."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{local_server}/own_step")
    settle(page, anchor="The contract")
    page.locator("input[type='file']").set_input_files(str(GUIDE_SCRIPT))
    uploader = page.get_by_test_id("stFileUploader")
    uploader.get_by_text(GUIDE_SCRIPT.name).wait_for(timeout=30_000)
    picker = page.get_by_role("combobox", name="Start from a template")
    picker.click()
    page.get_by_role("option", name=re.compile("^Blank")).click()
    page.wait_for_function("() => location.search.includes('template=blank')", timeout=30_000)
    settle(page, anchor="The contract")
    assert GUIDE_SCRIPT.name not in uploader.inner_text()  # an empty uploader: the file is no longer loaded
    assert "so the lab runs it as it is" not in page.inner_text("body")  # the editor holds Blank, not the script


def test_settings_survive_a_keystroke_that_breaks_the_module_and_a_visit_to_another_page(local_server, browser):
    """Deleting a colon and typing it back reset every setting to its minimum (learning rate 1e-6, batch size
    1, data limit 0): Streamlit drops the values of widgets a rerun does not draw, as a visit to Home does."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{local_server}/own_step?template=blank")
    settle(page, anchor="The contract")
    limit = page.get_by_role("spinbutton", name="Data limit")
    limit.fill("128")
    limit.press("Enter")
    settle(page, anchor="The contract")
    assert limit.input_value() == "128"
    frame = editor_frame(page)
    assert frame.evaluate(EDIT, ["def build_model(hp):", "def build_model(hp)"])
    page.get_by_text("Your module cannot run yet").wait_for(timeout=30_000)
    assert frame.evaluate(EDIT, ["def build_model(hp)", "def build_model(hp):"])
    page.get_by_text("Your module cannot run yet").wait_for(state="detached", timeout=30_000)
    settle(page, anchor="The contract")
    assert page.get_by_role("spinbutton", name="Data limit").input_value() == "128"
    page.get_by_role("link", name="Home").first.click()
    page.get_by_text("Active and recent runs").first.wait_for(timeout=30_000)
    page.get_by_role("link", name="Your own step").first.click()
    settle(page, anchor="The contract")
    assert page.get_by_role("spinbutton", name="Data limit").input_value() == "128"
