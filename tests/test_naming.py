"""Run names tell runs apart: the settings that differ from the defaults, key settings first."""

from runtime.record.naming import default_name, unique
from trainers import VARIANTS


def test_a_run_with_more_epochs_is_named_by_them_not_defaults_2():
    spec = VARIANTS["gan"]
    config = spec.validate({"epochs": 3})
    assert default_name(spec, "gan", spec.validate({})) == "GAN on MNIST, defaults"
    assert default_name(spec, "gan", config) == "GAN on MNIST: epochs=3"


def test_key_settings_come_before_the_others():
    spec = VARIANTS["gan"]
    key = spec.key_settings[0]
    other = next(p for p in spec.params if p.name not in spec.key_settings and p.kind == "int" and p.name != key)
    value = other.default + (other.step or 1)
    config = spec.validate({other.name: value, key: spec.param(key).choices[-1] if spec.param(key).choices else None})
    name = default_name(spec, "gan", config)
    assert name.index(f"{other.name}=") > name.index(":")  # both named, the key one first
    assert unique(name, {name}) == f"{name} #2"
