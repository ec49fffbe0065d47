"""The guide's lower-level step: no loss in compile(), the step keeps its own trackers."""

import keras
import numpy as np
import torch

HYPERPARAMETERS = {"learning_rate": (1e-3, 1e-6, 1.0), "epochs": 5, "batch_size": 32, "samples": 1000}


class CustomModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data

        # Clear the gradients left by the previous step.
        self.zero_grad()

        # Forward pass and our own loss: nothing was passed to compile() for it.
        y_pred = self(x, training=True)
        loss = self.loss_fn(y, y_pred)

        # Backward pass, then one optimizer update.
        loss.backward()
        trainable_weights = self.trainable_weights
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)

        # Our own metrics.
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        # Listed here, the trackers are reset at the start of each epoch.
        return [self.loss_tracker, self.mae_metric]


def build_model(hp):
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(hp["learning_rate"]))  # no loss, no metrics
    return model


def load_data(hp):
    rng = np.random.default_rng(0)
    return rng.random((hp["samples"], 32), dtype=np.float32), rng.random((hp["samples"], 1), dtype=np.float32)
