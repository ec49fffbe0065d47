"""Manual step: its own trackers, listed in `metrics`, are reset by fit() every epoch."""

import keras
import numpy as np

from trainers.data import regression_data
from trainers.variants._common import dense_regressor
from trainers.variants.manual import ManualModel


class BatchLog(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rows = []  # (epoch, reported loss, tracker count)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.rows.append((self.epoch, logs["loss"], float(self.model.loss_tracker.count.numpy())))


def test_trackers_reset_between_epochs(seeded):
    x, y = regression_data(128, target="linear", seed=0)
    model = dense_regressor(ManualModel)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    log = BatchLog()
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[log]).history

    counts = [c for _, _, c in log.rows]
    assert counts == [1, 2, 3, 4, 1, 2, 3, 4]  # the tracker starts again at epoch 2

    # Per-batch losses recovered from the running means: m_k * k - m_{k-1} * (k-1).
    per_batch = {0: [], 1: []}
    for epoch in (0, 1):
        means = [loss for e, loss, _ in log.rows if e == epoch]
        per_batch[epoch] = [m * k - (means[k - 2] * (k - 1) if k > 1 else 0.0) for k, m in enumerate(means, 1)]
    epoch2 = history["loss"][1]
    np.testing.assert_allclose(epoch2, np.mean(per_batch[1]), rtol=1e-4)
    running_since_start = np.mean(per_batch[0] + per_batch[1])
    assert abs(epoch2 - running_since_start) > 1e-3  # epoch 2's figure is epoch 2's alone


def test_compile_has_no_loss_and_metrics_are_the_trackers():
    model = dense_regressor(ManualModel)
    model.compile(optimizer="adam")
    assert model.loss is None
    assert [m.name for m in model.metrics] == ["loss", "mae"]
