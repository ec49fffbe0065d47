"""The guide's first example: override train_step, keep compile()'s loss and metrics.

Contract (see the page's help): HYPERPARAMETERS, build_model(hp); load_data(hp) is optional.
"""

import keras
import numpy as np
import torch

HYPERPARAMETERS = {"learning_rate": (1e-3, 1e-6, 1.0), "epochs": 3, "batch_size": 32, "samples": 1000}


class CustomModel(keras.Model):
    def train_step(self, data):
        # Unpack the data. Its structure depends on the model and on what was passed to fit().
        x, y = data

        # Clear the gradients left by the previous step.
        self.zero_grad()

        # Forward pass; the loss is whatever was passed to compile().
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)

        # Backward pass fills each weight's .grad.
        loss.backward()

        # Update the weights (trainable_weights is a fresh list already: no copy needed).
        trainable_weights = self.trainable_weights
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)

        # Update the metrics (including the one that tracks the loss).
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
    # The guide's data: x uniform, y uniform and independent of x (the loss can only fall to 1/12).
    rng = np.random.default_rng(0)
    x = rng.random((hp["samples"], 32), dtype=np.float32)
    y = rng.random((hp["samples"], 1), dtype=np.float32)
    return x, y
