"""Hyperparameter specs: typed validation with clear messages, URL parsing round trips."""

import pytest

from trainers import VARIANTS, get_variant
from trainers.config import ParamSpec, format_value, parse_value, validate_config

LR = ParamSpec("learning_rate", "float", 1e-3, min=1e-6, max=1.0)
BS = ParamSpec("batch_size", "int", 32, min=1, max=1024)
STEP = ParamSpec("step", "choice", "tuned", choices=("guide", "tuned"))
FLAG = ParamSpec("flag", "bool", False)
SPECS = (LR, BS, STEP, FLAG)


def test_defaults_fill_missing_values():
    assert validate_config(SPECS, {"batch_size": 8}) == {
        "learning_rate": 1e-3,
        "batch_size": 8,
        "step": "tuned",
        "flag": False,
    }


@pytest.mark.parametrize(
    "values, message",
    [
        ({"batch_size": 0}, r"batch_size=0 is invalid: expected an integer from 1 to 1024"),
        ({"batch_size": 2.5}, r"batch_size=2.5 is invalid"),
        ({"batch_size": "64"}, r"batch_size='64' is invalid"),
        ({"batch_size": True}, r"batch_size=True is invalid"),
        ({"learning_rate": -0.1}, r"learning_rate=-0.1 is invalid: expected a number from 1e-06 to 1"),
        ({"learning_rate": float("nan")}, r"learning_rate=nan is invalid"),
        ({"step": "fast"}, r"step='fast' is invalid: expected one of guide, tuned"),
        ({"flag": 1}, r"flag=1 is invalid: expected true or false"),
        ({"bogus": 1}, r"unknown setting\(s\) bogus"),
    ],
)
def test_bad_values_are_refused_with_what_and_why(values, message):
    with pytest.raises(ValueError, match=message):
        validate_config(SPECS, values)


def test_integral_float_is_accepted_as_int():
    assert validate_config(SPECS, {"batch_size": 64.0})["batch_size"] == 64


@pytest.mark.parametrize("spec, value", [(LR, 3e-4), (LR, 0.5), (BS, 17), (STEP, "guide"), (FLAG, True)])
def test_format_and_parse_round_trip(spec, value):
    assert parse_value(spec, format_value(value)) == value


@pytest.mark.parametrize(
    "spec, text", [(LR, "abc"), (LR, "5"), (BS, "1e3x"), (BS, "0"), (STEP, "GUIDE"), (FLAG, "maybe")]
)
def test_parse_rejects_garbage_and_out_of_range(spec, text):
    with pytest.raises(ValueError, match=spec.name):
        parse_value(spec, text)


def test_every_variant_declares_what_a_ui_needs():
    assert list(VARIANTS)[:5] == ["compute_loss", "manual", "weighted", "test_step", "gan"]  # the guide's order
    for spec in VARIANTS.values():
        assert spec.title and spec.summary and (spec.metrics or spec.runs_code)  # your own step: any metrics
        assert spec.guide_section or spec.section != "From the guide"  # the guide's variants name their section
        names = [p.name for p in spec.params]
        assert len(names) == len(set(names))
        assert spec.runs_code or ("epochs" in names and "batch_size" in names)  # own code declares its own
        for p in spec.params:
            assert p.help, f"{spec.key}.{p.name} needs help text"
        assert spec.validate({})  # defaults are valid
        for title, fn in spec.code_listing(spec.validate({})):
            assert callable(fn) and title


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown variant 'nope'; choose one of: compute_loss, manual"):
        get_variant("nope")


def test_epochs_beyond_cap_and_cross_knob_rules():
    with pytest.raises(ValueError, match="epochs=500 is invalid"):
        get_variant("gan").validate({"epochs": 500})
    with pytest.raises(ValueError, match="class_weight needs classes"):
        get_variant("weighted").validate({"task": "regression", "weighting": "class_weight"})


def test_digit_sets_parse_check_and_format():
    spec = ParamSpec("grid_digits", "digits", (0, 1), help="rows")
    assert parse_value(spec, "0,3,8") == (0, 3, 8)
    assert format_value((0, 3, 8)) == "0,3,8"
    for bad in ("", "3,3", "10", "a", "1,,2"):
        with pytest.raises(ValueError, match="grid_digits"):
            parse_value(spec, bad)
    with pytest.raises(ValueError, match="grid_digits"):
        validate_config((spec,), {"grid_digits": [True]})


def test_every_contrast_names_figures_its_runs_have():
    """A page's "with and without" table names figures a run of it records: a typo would leave its row
    empty for every run. Listed (the GAN pages) or a function of the config (the rare digits)."""
    from trainers.quality import HEADLINE as SCORES

    contrasts = [spec for spec in VARIANTS.values() if spec.contrast is not None]
    assert {spec.key for spec in contrasts} >= {"gan", "dcgan", "weighted"}
    for spec in contrasts:
        config = spec.validate({"task": "mnist"} if spec.key == "weighted" else {})
        figures = spec.contrast.figures_for(config)
        assert figures, spec.key
        for label, figure in figures:
            known = (
                figure in ("ms/step", "images/s")
                or figure in spec.metrics
                or figure.removeprefix("final/") in spec.epoch_metrics
                or figure.removeprefix("quality/") in SCORES
            )
            assert label and known, (spec.key, label, figure)
        for value in spec.contrast.values:  # both runs are valid settings of the page
            assert spec.validate({**config, spec.contrast.setting: value})[spec.contrast.setting] == value
