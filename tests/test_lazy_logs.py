"""Metric values read at the page's pace (a GPU's way: no device sync per step), in a real fit() on the CPU."""

import keras
import numpy as np
import torch

from runtime.record.live import LiveRun
from runtime.training.lazy_logs import LazyLogsCallbackList, fit_callbacks, read_interval, steps_per_epoch
from runtime.training.stream import stream_callbacks

BATCHES = 12  # per epoch


def _fit(read_every: float, lazy: bool, extra=(), validate: bool = False):
    """Two epochs of a seeded linear regression (batch 4, no shuffling): the same losses every time."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4 * BATCHES, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 1.0
    fit_kwargs = dict(x=x, y=y, batch_size=4, epochs=2, shuffle=False)
    if validate:  # a validation set whose loss is far from the training loss
        fit_kwargs["validation_data"] = (x[:8], y[:8] + 100.0)
    run = LiveRun("abc123def456", "test", {})
    stream = stream_callbacks(run, read_every=read_every)
    model.fit(**fit_kwargs, verbose=0, callbacks=fit_callbacks(model, fit_kwargs, [*stream, *extra], lazy=lazy))
    return run


def test_on_the_cpu_values_are_read_after_every_batch():
    assert read_interval() == (0.2 if torch.cuda.is_available() else 0.0)
    assert isinstance(fit_callbacks(None, {"x": np.zeros((8, 1))}, [], lazy=False), list)


def test_lazy_list_hands_over_tensors_and_keras_own_list_floats():
    """Keras converts each batch's logs to floats (a device sync on a GPU); the lazy list does not."""

    class Spy(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.kinds = set()

        def on_train_batch_end(self, batch, logs=None):
            self.kinds.add(type(logs["loss"]))

    lazy, plain = Spy(), Spy()
    _fit(0.0, lazy=True, extra=[lazy])
    _fit(0.0, lazy=False, extra=[plain])
    assert lazy.kinds == {torch.Tensor}
    assert plain.kinds == {float}


def test_reads_at_a_pace_record_the_mean_of_the_batches_between_them():
    """Read once an hour: a value after the first batch, then at each epoch's end the mean of the
    batches since; the same numbers as the every-batch run's per-batch values, averaged."""
    every = _fit(0.0, lazy=False).curves["loss"].points()
    paced_run = _fit(3600.0, lazy=True)
    paced = paced_run.curves["loss"].points()

    assert every.steps.tolist() == list(range(1, 2 * BATCHES + 1))
    assert paced.steps.tolist() == [1, BATCHES, 2 * BATCHES]
    per_batch = every.mean.astype(np.float64)
    expected = [per_batch[0], per_batch[1:BATCHES].mean(), per_batch[BATCHES:].mean()]
    np.testing.assert_allclose(paced.mean, expected, rtol=1e-5)
    # Progress is counted on every batch all the same, and so is the time inside the steps.
    assert paced_run.step == 2 * BATCHES and paced_run.total_steps == 2 * BATCHES
    assert paced_run.step_time_count == 2 * BATCHES - 1  # all but the first read (step 1: warm-up)


def test_validation_does_not_pass_for_the_training_batches_before_it():
    """fit() validates before an epoch's end with the same (reset) metric objects: the unread
    training batches are read first, so their mean is the training loss, not the validation's."""
    every = _fit(0.0, lazy=False, validate=True).curves["loss"].points()
    paced = _fit(3600.0, lazy=True, validate=True).curves["loss"].points()
    per_batch = every.mean.astype(np.float64)
    expected = [per_batch[0], per_batch[1:BATCHES].mean(), per_batch[BATCHES:].mean()]
    np.testing.assert_allclose(paced.mean, expected, rtol=1e-5)


def test_a_non_finite_loss_still_stops_the_run_when_read():
    run = LiveRun("abc123def456", "test", {})
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.full((40, 1), np.nan, np.float32)
    fit_kwargs = dict(x=x, y=x, batch_size=4, epochs=3)
    stream = stream_callbacks(run, read_every=3600.0)
    model.fit(**fit_kwargs, verbose=0, callbacks=fit_callbacks(model, fit_kwargs, stream, lazy=True))
    assert run.diverged_at == (1, "loss")
    assert run.step == 1


def test_steps_per_epoch_is_told_only_where_it_is_known():
    loader = torch.utils.data.DataLoader(torch.zeros(10, 2), batch_size=4)
    assert steps_per_epoch({"x": loader}) == 3
    assert steps_per_epoch({"x": np.zeros((10, 2)), "batch_size": 4}) == 3
    assert steps_per_epoch({"x": np.zeros((10, 2))}) == 1  # Keras's default batch of 32
    assert steps_per_epoch({"x": loader, "steps_per_epoch": 2}) == 2
    assert steps_per_epoch({"x": {"a": np.zeros(3)}}) is None
    assert steps_per_epoch({"x": np.zeros((10, 2)), "batch_size": 4, "validation_split": 0.25}) is None
    # Where it is not known the plain list is used: Keras then fills in the steps itself.
    assert fit_callbacks(None, {"x": {"a": np.zeros(3)}}, [], lazy=True) == []
    assert isinstance(fit_callbacks(None, {"x": loader, "epochs": 1}, [], lazy=True), LazyLogsCallbackList)
