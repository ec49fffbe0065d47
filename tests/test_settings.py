"""The LAB_* environment (runtime/serving/settings.py): wrong values are explained, with the fix."""

import os

import pytest

from runtime.serving.settings import settings_from_env
from tests.apptest import page, shown


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("LAB_TORCH_THREADS", "99999999999999999999", "LAB_TORCH_THREADS='99999999999999999999' is not valid"),
        ("LAB_MAX_CONCURRENT", "0", "from 1 to 64"),
        ("LAB_PAUSE_LIMIT_MINUTES", "soon", "LAB_PAUSE_LIMIT_MINUTES='soon' is not valid"),
        ("LAB_PRIVATE_RUNS", "maybe", "set it to 1 (on) or 0 (off)"),
    ],
)
def test_wrong_lab_settings_are_explained(monkeypatch, tmp_path, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings_from_env(tmp_path)


def test_lab_home_a_file_read_only_or_with_a_tilde(monkeypatch, tmp_path):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    monkeypatch.setenv("LAB_HOME", str(a_file))
    with pytest.raises(ValueError, match="is a file, not a folder"):
        settings_from_env(tmp_path)
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        monkeypatch.setenv("LAB_HOME", str(locked / "runs"))
        with pytest.raises(ValueError, match="cannot be written"):
            settings_from_env(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LAB_HOME", "~/lab-runs")
    assert settings_from_env(tmp_path)["home"] == tmp_path / "lab-runs"  # not a folder named "~"
    monkeypatch.setenv("LAB_HOME", "~no-such-user-0/runs")  # found by the fuzz test: a RuntimeError before
    with pytest.raises(ValueError, match="home folder of a user this system does not know"):
        settings_from_env(tmp_path)


def test_the_page_explains_a_wrong_setting(lab, monkeypatch):
    monkeypatch.setenv("LAB_TORCH_THREADS", "99999999999999999999")
    try:
        at = page()
        assert not at.exception
        assert "LAB_TORCH_THREADS='99999999999999999999' is not valid" in shown(at.error[0].value)
    finally:
        monkeypatch.delenv("LAB_TORCH_THREADS")  # before the fixture's clean-up builds a manager
