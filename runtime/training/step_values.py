"""Per-batch values of ``fit``'s running-mean metrics."""

from __future__ import annotations

import keras


class StepValues:
    """Per-batch values of ``fit``'s running-mean metrics.

    ``fit`` reports each metric as a mean since the epoch began. For curves a person
    wants each batch's own value: for metrics that keep ``total`` and ``count``
    (``Mean`` and every ``MeanMetricWrapper``: losses, MAE, accuracy) it is the
    change in total over the change in count since the previous batch. Other
    metrics are passed through as reported.
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self.leaves: dict[str, keras.metrics.Metric] | None = None
        self.previous: dict[str, tuple[float, float]] = {}

    def _find_leaves(self) -> dict[str, keras.metrics.Metric]:
        leaves = {}
        for metric in self.model.metrics:
            inner = getattr(metric, "metrics", None)  # CompileMetrics holds the compiled ones
            for leaf in inner if isinstance(inner, (list, tuple)) else [metric]:
                if hasattr(leaf, "total") and hasattr(leaf, "count"):
                    leaves[leaf.name] = leaf
        return leaves

    def __call__(self, logs: dict, only_changed: bool = False) -> dict[str, float]:
        """Each metric's value for the batch(es) since the last call; with ``only_changed``, metrics
        that no batch updated since (a single discriminator step leaves ``g_loss`` alone) are left out."""
        if self.leaves is None:  # compiled metrics are built lazily, on the first batch
            self.leaves = self._find_leaves()
        values = {}
        for name, reported in logs.items():
            leaf = self.leaves.get(name)
            if leaf is None:
                values[name] = float(reported)
                continue
            total = float(keras.ops.convert_to_numpy(leaf.total.value))
            count = float(keras.ops.convert_to_numpy(leaf.count.value))
            prev_total, prev_count = self.previous.get(name, (0.0, 0.0))
            if count < prev_count:  # the metric was reset: a new epoch began
                prev_total, prev_count = 0.0, 0.0
            self.previous[name] = (total, count)
            if count > prev_count:
                values[name] = (total - prev_total) / (count - prev_count)
            elif not only_changed:
                values[name] = float(reported)
        return values
