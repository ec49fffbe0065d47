"""Custom test_step: evaluate() and fit()'s validation go through it and agree with numpy."""

import keras
import numpy as np

from trainers import get_variant
from trainers.data import regression_data
from trainers.variants._common import dense_regressor, numpy_mse_mae
from trainers.variants.test_step import TestStepModel


class CountingTestStepModel(TestStepModel):
    """Counts calls so the test can see fit()'s validation really uses the override."""

    calls = 0

    def test_step(self, data):
        type(self).calls += 1
        return super().test_step(data)


def test_evaluate_matches_numpy_on_the_same_predictions(seeded):
    x, y = regression_data(200, seed=3)
    model = dense_regressor(TestStepModel)
    model.compile(loss="mse", metrics=["mae"])  # as in the guide: evaluate only, no optimizer
    loss, mae = model.evaluate(x, y, batch_size=200, verbose=0)
    ref_loss, ref_mae = numpy_mse_mae(y, model.predict(x, verbose=0))
    np.testing.assert_allclose([loss, mae], [ref_loss, ref_mae], rtol=1e-5)


def test_validation_in_fit_uses_test_step(seeded):
    (x, y), (xv, yv) = (regression_data(160, seed=1), regression_data(40, seed=2))
    model = dense_regressor(CountingTestStepModel)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=40, epochs=2, validation_data=(xv, yv), verbose=0).history
    assert CountingTestStepModel.calls == 2  # one validation batch per epoch
    ref_loss, ref_mae = numpy_mse_mae(yv, model.predict(xv, verbose=0))
    np.testing.assert_allclose([history["val_loss"][-1], history["val_mae"][-1]], [ref_loss, ref_mae], rtol=1e-5)


def test_variant_final_report_is_the_evaluation(seeded):
    spec = get_variant("test_step")
    exp = spec.build(spec.validate({"samples": 100, "epochs": 1, "batch_size": 100}))
    exp.model.fit(**exp.fit_kwargs, verbose=0)
    report = exp.final_report()
    xv, yv = exp.fit_kwargs["validation_data"]
    ref_loss, ref_mae = numpy_mse_mae(yv, exp.model.predict(xv, verbose=0))
    np.testing.assert_allclose([report["eval_loss"], report["eval_mae"]], [ref_loss, ref_mae], rtol=1e-5)
