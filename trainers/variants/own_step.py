"""Your own step: a module a person wrote (or edited from a template), trained like any variant.

The contract is ``trainers/own_step.py``'s: a module with ``build_model``, or a script
that calls ``fit()`` itself. The run's config holds the exact source, so the code is part
of the run: stored, shown, compared and downloaded with it. It runs code a visitor typed
(``runs_code``): the lab trains it in a worker process, never in the server's.
"""

from __future__ import annotations

import contextlib
import os

import keras
import numpy as np
import torch

from trainers import templates
from trainers.config import ParamSpec, validate_config
from trainers.data import keras_splits, load_mnist, regression_data
from trainers.images import to_uint8
from trainers.own_step_contract import (
    DATA_SETS,
    ScriptStopped,
    StepCodeError,
    check_source,
    load_module,
    run_script,
    user_frames,
)
from trainers.registry import Experiment, VariantSpec
from trainers.variants import _common

PARAMS = (
    ParamSpec(
        "template",
        "choice",
        "gan",
        choices=(*templates.NAMES, templates.UPLOAD),
        help="The module the editor started from: a template, or a file loaded into it (upload).",
    ),
    ParamSpec("file", "text", "", help="The name of the file loaded into the editor (template upload)."),
    ParamSpec(
        "data",
        "choice",
        "regression",
        choices=tuple(DATA_SETS),
        help="The lab's data set, used when the module has no load_data.",
    ),
    ParamSpec(
        "data_limit",
        "int",
        0,
        min=0,
        max=70_000,
        step=64,
        advanced=True,
        help="Use the first n rows of the lab's data set only (0: all).",
    ),
    ParamSpec("source", "code", templates.source("gan"), help="The module's text."),
    ParamSpec("hp", "mapping", {}, help="Values of the module's HYPERPARAMETERS."),
    _common.SEED,
)


def check(config: dict) -> dict:
    """The module's syntax and names, and its hyperparameters, checked without running anything."""
    checked = check_source(config["source"])
    hp = validate_config(checked.hyperparameters, config["hp"])
    return {**config, "hp": hp}


def lab_data(config: dict):
    """The lab's data set chosen for a module without load_data, as fit() arguments."""
    limit = config["data_limit"] or None
    if config["data"] == "regression":
        x, y = regression_data(limit or 1000, seed=config["seed"])
        return {"x": x, "y": y}, f"the guide's regression data: {len(x)} rows"
    mnist = load_mnist()
    images = mnist.images[:limit].astype(np.float32)[..., None] / 255.0
    if config["data"] == "mnist_digits":
        return {"x": images}, f"MNIST {mnist.source}: {len(images)} digits"
    return {"x": images, "y": mnist.labels[:limit].astype(np.int64)}, f"MNIST {mnist.source}: {len(images)} labelled"


def _fit_arguments(data) -> dict:
    if isinstance(data, dict):
        return dict(data)
    if isinstance(data, (tuple, list)):
        return dict(zip(("x", "y", "sample_weight"), data))
    return {"x": data}


def _defines_a_step(model: keras.Model, module_name: str) -> bool:
    return any(
        cls.__module__ == module_name and ("train_step" in vars(cls) or "test_step" in vars(cls))
        for cls in type(model).__mro__
    )


GRID_SAMPLES = 36  # digits in the grid drawn from a generator (6 x 6)


def images_for(model, namespace: dict):
    """How to draw the grid for ``model``: the module's ``sample_images(model)``, else, for a model with a
    ``generator`` and an integer ``latent_dim`` (the guide's GAN), the generator on fixed noise (passed
    through the model's ``generator_inputs`` where it has one: a lab GAN with InfoGAN's code adds the code);
    else None."""
    sample = namespace.get("sample_images")
    if callable(sample):
        return lambda: to_uint8(sample(model))
    generator, latent_dim = getattr(model, "generator", None), getattr(model, "latent_dim", None)
    if not isinstance(generator, keras.Model) or not isinstance(latent_dim, int) or isinstance(latent_dim, bool):
        return None
    noise = np.random.default_rng(0).standard_normal((GRID_SAMPLES, latent_dim)).astype(np.float32)
    inputs_for = getattr(model, "generator_inputs", None)

    def draw():
        with torch.no_grad():
            z = keras.ops.convert_to_tensor(noise)
            inputs = inputs_for(z) if callable(inputs_for) else z
            return to_uint8(keras.ops.convert_to_numpy(generator(inputs, training=False)))

    return draw


@contextlib.contextmanager
def _lab_mnist():
    """While a script runs: ``keras.datasets.mnist.load_data()`` serves the lab's MNIST where ``MNIST_DIR``
    names it (offline, Keras's own download fails); a split the folder lacks comes back empty."""
    if not os.environ.get("MNIST_DIR"):
        yield
        return
    datasets = keras.datasets.mnist
    original = datasets.load_data

    def load_data(path="mnist.npz"):
        return keras_splits(load_mnist())

    datasets.load_data = load_data
    try:
        yield
    finally:
        datasets.load_data = original


def _script(config: dict) -> Experiment:
    """A script that calls fit() itself: it runs when the runtime calls ``script``, with the lab's callback."""
    source, hp = config["source"], dict(config["hp"])

    def script(stream, should_stop):
        def callbacks_for(model, namespace):
            return stream(model, images_for(model, namespace))

        try:
            with _lab_mnist():
                return run_script(source, callbacks_for, hp, should_stop)
        except ScriptStopped:
            return None  # stopped before its first fit()

    data = "your script's own data"
    if _mnist_used(source):
        mnist = load_mnist()
        empty = "" if "train" in mnist.splits else "; its train split is empty, the folder has t10k only"
        data += f" (keras.datasets.mnist from {mnist.source}{empty})"
    return Experiment(model=None, fit_kwargs={}, batch_size=hp.get("batch_size"), data_source=data, script=script)


def _mnist_used(source: str) -> bool:
    if "mnist" not in source or "load_data" not in source or not os.environ.get("MNIST_DIR"):
        return False
    try:
        load_mnist()
    except (OSError, ValueError):
        return False
    return True


def build(config: dict) -> Experiment:
    if check_source(config["source"]).script:
        return _script(config)
    module = load_module(config["source"], name="your_step")
    hp = dict(config["hp"])
    model = module.build_model(hp)
    if not isinstance(model, keras.Model):
        raise StepCodeError(f"`build_model` returned a {type(model).__name__}, not a keras.Model.")
    if not _defines_a_step(model, module.__name__):
        raise StepCodeError(
            f"`build_model` returned a {type(model).__name__} whose class defines neither train_step nor "
            "test_step: subclass keras.Model and write your step in it."
        )
    if getattr(model, "optimizer", None) is None and not hasattr(model, "d_optimizer"):
        raise StepCodeError("`build_model` must compile the model (call model.compile(...) before returning it).")
    if hasattr(module, "load_data"):
        fit_kwargs, source = _fit_arguments(module.load_data(hp)), "your load_data()"
    else:
        fit_kwargs, source = lab_data(config)
    if not isinstance(fit_kwargs.get("x"), torch.utils.data.DataLoader):
        fit_kwargs.setdefault("batch_size", hp.get("batch_size", 32))  # Keras uses it for arrays only
    fit_kwargs.setdefault("epochs", hp.get("epochs", 1))
    return Experiment(
        model=model,
        fit_kwargs=fit_kwargs,
        batch_size=_batch_size(fit_kwargs),  # the panel's samples per second
        sample_images=images_for(model, vars(module)),
        data_source=source,
    )


def _batch_size(fit_kwargs: dict) -> int | None:
    """Samples a step of ``fit(**fit_kwargs)`` takes: fit's batch size for arrays, a torch loader's own, else
    unknown (a PyDataset or a generator batches itself, and Keras ignores fit's batch size for it)."""
    x = fit_kwargs.get("x")
    if isinstance(x, torch.utils.data.DataLoader):
        return x.batch_size or getattr(x.batch_sampler, "batch_size", None)
    if all(isinstance(leaf, (np.ndarray, torch.Tensor)) for leaf in keras.tree.flatten(x)):
        return fit_kwargs.get("batch_size")
    return None


def explain(config: dict, exc: BaseException) -> tuple[str, str]:
    """A failure as the person can act on it: the contract's message, or their own frames."""
    if isinstance(exc, StepCodeError):
        return str(exc), str(exc)
    return user_frames(exc, config.get("source", ""))


def describe(config: dict) -> dict:
    """What tells runs of your own step apart: the template (and whether it was edited) or an uploaded file, the
    hyperparameters changed from the module's defaults, and the data when not the module's own (and its limit)."""
    template, source = config.get("template", templates.DEFAULT), config.get("source", "")
    if template == templates.UPLOAD:
        out = {"file": config.get("file") or "uploaded"}
    else:
        edited = template not in templates.NAMES or source != templates.source(template)
        out = {"template": f"{template} (edited)" if edited else template}
    try:
        checked = check_source(source)
    except StepCodeError:
        return out
    defaults = {p.name: p.default for p in checked.hyperparameters}
    out.update({k: v for k, v in (config.get("hp") or {}).items() if v != defaults.get(k)})
    if checked.data is None or config.get("data") != checked.data:
        out["data"] = config.get("data")
    if config.get("data_limit"):
        out["data_limit"] = config["data_limit"]  # two runs apart by it alone read alike otherwise
    return out


def code_for(config: dict) -> tuple:
    return ()  # the page shows the editor itself


SPEC = VariantSpec(
    key="own_step",
    title="Your own step",
    summary="Edit a training step in the browser, start it, and watch it train with the lab's live panel.",
    params=PARAMS,
    metrics=(),
    build=build,
    code=code_for,
    tiny={"template": "blank", "source": templates.source("blank"), "hp": {"epochs": 1}, "data_limit": 64},
    icon=":material/edit_note:",
    section="Your own step",
    key_settings=("template", "data", "hp"),
    describe=describe,
    check=check,
    explain_error=explain,
    runs_code=True,
)
