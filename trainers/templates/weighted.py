"""The guide's step that honours sample_weight (and so class_weight)."""

import keras
import numpy as np
import torch

HYPERPARAMETERS = {"learning_rate": (1e-3, 1e-6, 1.0), "epochs": 3, "batch_size": 32, "samples": 1000}


class CustomModel(keras.Model):
    def train_step(self, data):
        # fit() passes (x, y, sample_weight) when weights are given, else (x, y).
        if len(data) == 3:
            x, y, sample_weight = data
        else:
            sample_weight = None
            x, y = data

        self.zero_grad()

        # Forward pass; the weights scale each sample's share of the loss.
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)

        # Backward pass and update.
        loss.backward()
        trainable_weights = self.trainable_weights
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)

        # The metrics are weighted the same way as the loss.
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}


def build_model(hp):
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    # Departure from the guide: weighted_metrics, not metrics. Keras applies the sample_weight
    # handed to update_state() only to weighted metrics; the guide's MAE ignores it.
    model.compile(optimizer=keras.optimizers.Adam(hp["learning_rate"]), loss="mse", weighted_metrics=["mae"])
    return model


def load_data(hp):
    rng = np.random.default_rng(0)
    x = rng.random((hp["samples"], 32), dtype=np.float32)
    y = rng.random((hp["samples"], 1), dtype=np.float32)
    sw = rng.random((hp["samples"], 1), dtype=np.float32)  # the guide's random sample weights
    return x, y, sw
