"""The guide's own evaluation step: test_step, used by evaluate() and by fit()'s validation."""

import keras
import numpy as np

HYPERPARAMETERS = {"learning_rate": (1e-3, 1e-6, 1.0), "epochs": 5, "batch_size": 32, "samples": 1000}


class CustomModel(keras.Model):
    def test_step(self, data):
        # Unpack the data.
        x, y = data
        # Compute predictions (inference mode).
        y_pred = self(x, training=False)
        # The loss as compiled.
        loss = self.compute_loss(y=y, y_pred=y_pred)
        # Update the metrics tracking the loss, then the others.
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def build_model(hp):
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(hp["learning_rate"]), loss="mse", metrics=["mae"])
    return model


def load_data(hp):
    rng = np.random.default_rng(0)
    x = rng.random((hp["samples"], 32), dtype=np.float32)
    y = rng.random((hp["samples"], 1), dtype=np.float32)
    cut = int(0.8 * len(x))
    # fit() evaluates the held-out rows with test_step at the end of every epoch.
    return {"x": x[:cut], "y": y[:cut], "validation_data": (x[cut:], y[cut:])}
