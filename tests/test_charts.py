"""Chart builders: what a person reads off the live panel."""

import numpy as np

from ui import charts


def _trace(fig, name):
    found = [t for t in fig.data if t.name == name]
    assert found, f"no trace named {name!r} in {[t.name for t in fig.data]}"
    return found[0]


def test_validation_is_drawn_on_the_training_metrics_panel():
    steps = np.arange(1, 21, dtype=np.int32)
    curves = {"loss": (steps, np.linspace(1, 0.1, 20, dtype=np.float32)), "mae": (steps, np.ones(20, np.float32))}
    epoch = {
        "epoch/loss": (np.array([10, 20]), np.array([0.6, 0.2])),
        "epoch/val_loss": (np.array([10, 20]), np.array([0.7, 0.3])),
    }
    fig = charts.curves_figure(curves, epoch_steps=[10, 20], epoch_curves=epoch, total_steps=20)
    val = _trace(fig, "val_loss (held out)")
    assert list(val.x) == [10, 20] and np.allclose(val.y, [0.7, 0.3])
    assert val.yaxis == _trace(fig, "loss").yaxis != _trace(fig, "mae").yaxis  # same panel as loss only
    assert val.line.dash == "dash"


def test_without_validation_there_is_no_validation_trace():
    steps = np.arange(1, 6, dtype=np.int32)
    fig = charts.curves_figure({"loss": (steps, np.ones(5, np.float32))})
    assert not [t for t in fig.data if t.name and t.name.startswith("val_")]


def test_epoch_labels_are_thinned_so_they_do_not_overlap_but_every_boundary_is_drawn():
    steps = np.arange(1, 301, dtype=np.int32)
    boundaries = list(range(10, 301, 10))  # 30 epochs
    fig = charts.curves_figure({"loss": (steps, np.ones(300, np.float32))}, epoch_steps=boundaries, total_steps=300)
    assert len(fig.layout.shapes) == 29  # the end of training needs no line
    labels = [a.text for a in fig.layout.annotations if a.text.startswith("epoch")]
    assert 0 < len(labels) <= charts.MAX_EPOCH_LABELS
    assert labels[0] == "epoch 4" and labels[-1] == "epoch 28"
    few = charts.curves_figure(
        {"loss": (steps, np.ones(300, np.float32))}, epoch_steps=[100, 200, 300], total_steps=300
    )
    assert [a.text for a in few.layout.annotations if a.text.startswith("epoch")] == ["epoch 1", "epoch 2"]
