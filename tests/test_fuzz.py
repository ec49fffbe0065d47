"""Property-based fuzzing of what a stranger controls: link parameters, ``?run=`` values, ``LAB_*``
settings. Hundreds of generated cases each; none may raise anything but the explained errors."""

import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import RunManager
from runtime.serving.settings import settings_from_env
from tests.apptest import page
from trainers import VARIANTS
from ui.param_widgets import config_from_query

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
NASTY = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "1e309",
        "nan",
        "inf",
        "9" * 30,
        "true",
        "[x](http://e.x)",
        "![i](http://e.x/p.png)",
        "../../etc",
        "<script>alert(1)</script>",
        ":material/home:",
        "`",
        "0,3,3",
        "1,2,10",
        " 64 ",
        "0x10",
    ]
)
VALUES = st.one_of(TEXT, NASTY)
SETTINGS = [(key, [p.name for p in spec.params]) for key, spec in VARIANTS.items()]
SLOW = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("key, names", SETTINGS, ids=[k for k, _ in SETTINGS])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_link_parameters_give_a_valid_config_and_notes(key, names, data):
    spec = VARIANTS[key]
    query = data.draw(st.dictionaries(st.one_of(st.sampled_from(names), TEXT), VALUES, max_size=6))
    values, notes = config_from_query(spec, query)
    if spec.runs_code:
        return  # its page reads its own parameters (hp_*, template, data)
    config = {**{p.name: p.default for p in spec.params}, **values}
    try:
        spec.validate(config)
    except ValueError as exc:  # only cross-setting rules (or hardware) may refuse a set of valid values
        assert spec.check is not None, exc
    assert all(isinstance(n, str) and n for n in notes)


@SLOW
@given(
    query=st.dictionaries(st.sampled_from(["latent_dim", "epochs", "step", "run", "runs", "bogus"]), VALUES, max_size=4)
)
def test_the_gan_page_never_shows_a_traceback_whatever_the_link(lab, query):
    at = page("pages/gan.py", **query)
    assert not at.exception, (query, at.exception)


@SLOW
@given(run=VALUES)
def test_any_run_value_is_answered_not_raised(lab, run):
    assert lab().snapshot(run) is None or isinstance(run, str)
    at = page("pages/runs.py", run=run, runs=run)
    assert not at.exception, (run, at.exception)


LAB_VARS = [
    "LAB_MAX_CONCURRENT",
    "LAB_MAX_QUEUE",
    "LAB_TORCH_THREADS",
    "LAB_GRID_MIN_SECONDS",
    "LAB_PRIVATE_RUNS",
    "LAB_MAX_PER_VISITOR",
    "LAB_ALLOW_CODE",
    "LAB_PAUSE_LIMIT_MINUTES",
    "LAB_MAX_RUN_MINUTES",
    "LAB_MAX_RUN_STEPS",
    "LAB_KEEP_DAYS",
    "LAB_MAX_STORE_MB",
    "LAB_TRUST_PROXY",
    "LAB_HEARTBEAT_TIMEOUT",
    "LAB_HOME",
]
ENV_VALUES = st.one_of(
    NASTY,
    st.text(alphabet=string.printable, max_size=25),
    st.integers(-10, 10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


@settings(max_examples=300, deadline=None)
@given(env=st.dictionaries(st.sampled_from(LAB_VARS), ENV_VALUES.filter(lambda v: "\x00" not in v), max_size=5))
def test_any_lab_settings_are_accepted_or_explained(tmp_path_factory, env):
    saved = {k: os.environ.get(k) for k in LAB_VARS}
    try:
        for k in LAB_VARS:
            os.environ.pop(k, None)
        os.environ.update(env)
        try:
            settings = settings_from_env(tmp_path_factory.getbasetemp() / "lab")
        except ValueError as exc:
            assert any(k in str(exc) for k in env) or "run folder" in str(exc), (env, exc)
            return
        assert (settings["max_concurrent"] or 1) >= 1 and settings["cadence"].every >= 1  # None: 1 (Ray: its size)
        RunManager(**{**settings, "home": tmp_path_factory.mktemp("fuzzed")})  # a manager can be built
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
