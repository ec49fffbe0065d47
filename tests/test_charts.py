"""Chart builders: what a person reads off the live panel and the compare view."""

import re
import time

import numpy as np
import pytest

from runtime.record.curves import Curve, CurvePoints, EpochPoints
from ui import charts
from ui.chart_math import ChartOptions, ema
from ui.chart_traces import MARK_CHAR_SHARE, MARK_ROW_PX, MAX_EPOCH_LABELS, MAX_EPOCH_LINES


def _trace(fig, name):
    found = [t for t in fig.data if t.name == name]
    assert found, f"no trace named {name!r} in {[t.name for t in fig.data]}"
    return found[0]


def exact(values, times=None):
    values = np.asarray(values, np.float32)
    return CurvePoints.exact(np.arange(1, len(values) + 1), values, times)


def test_validation_is_drawn_on_the_training_metrics_panel():
    curves = {"loss": exact(np.linspace(1, 0.1, 20)), "mae": exact(np.ones(20))}
    epoch = {
        "epoch/loss": EpochPoints(np.array([10, 20]), np.array([0.6, 0.2], np.float32), np.zeros(2, np.float32)),
        "epoch/val_loss": EpochPoints(np.array([10, 20]), np.array([0.7, 0.3], np.float32), np.zeros(2, np.float32)),
    }
    fig = charts.curves_figure(curves, epoch_steps=[10, 20], epoch_curves=epoch, total_steps=20)
    val = _trace(fig, "val_loss (held out)")
    assert list(val.x) == [10, 20] and np.allclose(val.y, [0.7, 0.3])
    assert val.yaxis == _trace(fig, "loss").yaxis != _trace(fig, "mae").yaxis  # same panel as loss only
    assert val.line.dash == "dash"


def test_without_validation_there_is_no_validation_trace():
    fig = charts.curves_figure({"loss": exact(np.ones(5))})
    assert _trace(fig, "loss").yaxis  # the figure has its curve (an empty one would have no validation either)
    assert [t.name for t in fig.data if t.name and t.name.startswith("val_")] == []


def test_epoch_labels_are_thinned_so_they_do_not_overlap_but_every_boundary_is_drawn():
    curves = {"loss": exact(np.ones(300))}
    fig = charts.curves_figure(curves, epoch_steps=list(range(10, 301, 10)), total_steps=300)
    assert len(fig.layout.shapes) == 29  # the end of training needs no line
    labels = [a.text for a in fig.layout.annotations if a.text.startswith("epoch")]
    assert 0 < len(labels) <= MAX_EPOCH_LABELS
    assert labels == [f"epoch {i}" for i in range(4, 25, 4)]  # "epoch 28", drawn left of its line, would run into 24
    few = charts.curves_figure(curves, epoch_steps=[100, 200, 300], total_steps=300)
    assert [a.text for a in few.layout.annotations if a.text.startswith("epoch")] == ["epoch 1", "epoch 2"]


def test_with_many_epochs_only_the_labelled_epoch_ends_are_drawn():
    """Seen in Chromium: WGAN-GP's 95 epochs drew 94 dotted lines 6 px apart, a grey block over the curves."""
    curves = {"loss": exact(np.ones(950))}
    fig = charts.curves_figure(curves, epoch_steps=list(range(10, 951, 10)), total_steps=950)
    labels = [a.text for a in fig.layout.annotations if a.text.startswith("epoch")]
    every_12th = [f"epoch {i}" for i in range(12, 95, 12)]  # 95 / MAX_EPOCH_LABELS, rounded up
    assert labels[0] == "epoch 12" and set(labels) <= set(every_12th)  # (labels too close share one)
    assert sorted(shape.x0 for shape in fig.layout.shapes) == [10.0 * i for i in range(12, 95, 12)]
    at_limit = charts.curves_figure(curves, epoch_steps=list(range(10, 10 * MAX_EPOCH_LINES + 1, 10)))
    assert len(at_limit.layout.shapes) == MAX_EPOCH_LINES  # up to the limit, every epoch's end


def test_a_metric_has_one_legend_entry_that_shows_and_hides_all_its_traces():
    """The legend listed each metric twice (its line and its epoch means): 16 rows above a GAN's chart."""
    epoch = {
        f"epoch/{n}": EpochPoints(np.array([50, 100]), np.ones(2, np.float32), np.zeros(2, np.float32))
        for n in ("d_loss", "g_loss")
    }
    noisy = CurvePoints(
        np.arange(1.0, 101.0),
        np.zeros(100, np.float32),
        *(np.linspace(0, 1, 100, dtype=np.float32) + d for d in (0, -0.1, 0.1)),
    )
    fig = charts.curves_figure({"d_loss": noisy, "g_loss": noisy}, [50, 100], epoch, total_steps=100)
    assert [t.name for t in fig.data if t.showlegend is not False] == ["d_loss", "g_loss"]
    for name in ("d_loss", "g_loss"):
        group = {t.name for t in fig.data if t.legendgroup == name}
        assert group == {name, f"{name} (raw)", f"{name} max", f"{name} range", f"{name}, epoch mean"}, group


def test_mark_labels_never_widen_the_axis_nor_overlap():
    """Plotly widens an autoranged axis to fit an annotation's text: a label at the right end (a single
    step after the last one) is drawn to the left of its mark; marks close together share one label."""
    curves = {"d_loss": exact(np.ones(158))}
    events = [(40, "d_learning_rate → 1e-4"), (42, "g_learning_rate → 1e-4"), (45, "label_noise → 0.1")]
    events.append((157, "one full step"))
    fig = charts.curves_figure(curves, total_steps=158, events=events)
    notes = [a for a in fig.layout.annotations if not a.text.startswith("epoch")]
    assert len(fig.layout.shapes) == 4  # every change keeps its line
    assert [(a.x, a.text, a.xanchor) for a in notes] == [
        (40, "d_learning_rate → 1e-4 (+2 more)", "left"),
        (157, "one full step", "right"),
    ]
    assert notes[0].hovertext.split("<br>") == [label for _, label in events[:3]]
    scores = {"quality/legible": exact([0.1, 0.5, 0.8])}
    [end] = charts.scores_figure(scores, events=[(3, "one full step")]).layout.annotations
    assert end.xanchor == "right"


def _label_rooms(fig, lo: float, hi: float) -> list[tuple[float, float]]:
    """(from, to) on the x axis of each annotation's text, at MARK_CHAR_SHARE of the span a character."""
    rooms = []
    for a in fig.layout.annotations:
        width = len(a.text) * MARK_CHAR_SHARE * ((hi - lo) or 1.0)
        rooms.append((a.x - width, a.x) if a.xanchor == "right" else (a.x, a.x + width))
    return sorted(rooms)


def test_labels_on_either_side_of_the_flip_do_not_run_into_each_other():
    """Seen in Chromium: a conditional GAN at step 1,150 of 1,884 drew "epoch 4" right of its mark and
    "epoch 5" left of its own, 157 steps apart, and the two ran together ("epoch 4epoch 5"); the first
    mend hid "epoch 5" instead (every label past 0.6 of the span was drawn left of its mark)."""
    curves = {"d_loss": exact(np.ones(1150))}
    fig = charts.curves_figure(curves, epoch_steps=list(range(157, 1150, 157)), total_steps=1884)
    rooms = _label_rooms(fig, 1, 1150)
    assert len(rooms) == 6, rooms  # epochs 1-6 labelled; 7, at the right end, shares 6's
    assert all(a[1] <= b[0] for a, b in zip(rooms, rooms[1:])), rooms  # no label runs into the next
    assert all(hi <= 1150 for _, hi in rooms)  # nor past the end, where Plotly would widen the axis
    assert len(fig.layout.shapes) == 7  # every epoch keeps its line
    assert all(re.fullmatch(r"epoch \d+", a.text) for a in fig.layout.annotations)  # no "(+1 more)"


@pytest.mark.parametrize(
    ("steps", "epoch"), [(400, 157), (1150, 157), (1350, 157), (1884, 157), (2600, 157), (4700, 157), (1505, 10)]
)
def test_evenly_spaced_epoch_labels_all_stand_but_perhaps_the_last(steps, epoch):
    """Only a label at the right end, drawn left of its line onto its neighbour, may give way: none in the
    middle of the row (it hid "epoch 20" between "epoch 16" and "epoch 24"), three-digit ones included."""
    curves = {"d_loss": exact(np.ones(steps))}
    epoch_steps = list(range(epoch, steps, epoch))
    fig = charts.curves_figure(curves, epoch_steps=epoch_steps, total_steps=200 * epoch)
    shown = [a.text for a in sorted(fig.layout.annotations, key=lambda a: a.x)]
    every = int(shown[0].removeprefix("epoch "))  # every `every`-th epoch is labelled
    wanted = [f"epoch {i}" for i in range(every, len(epoch_steps) + 1, every)]
    assert shown in (wanted, wanted[:-1]) and len(wanted) <= MAX_EPOCH_LABELS, (shown, wanted)
    rooms = _label_rooms(fig, 1, steps)
    assert len(rooms) == len(shown) >= 2 and all(a[1] <= b[0] for a, b in zip(rooms, rooms[1:])), rooms


def test_steering_labels_stand_a_row_above_the_epoch_labels():
    """Seen in Chromium: "g_learning_rate → 0.001" drawn over "epoch 8" and "epoch 10" (one row, two sets of
    labels each placed apart only from its own)."""
    curves = {"d_loss": exact(np.ones(1884))}
    fig = charts.curves_figure(
        curves, epoch_steps=list(range(157, 1884, 157)), total_steps=1884, events=[(1650, "g_learning_rate → 0.001")]
    )
    rows = {a.text: a.yshift for a in fig.layout.annotations}
    assert rows.pop("g_learning_rate → 0.001") == MARK_ROW_PX and rows and set(rows.values()) == {0}
    alone = charts.curves_figure(curves, events=[(1650, "g_learning_rate → 0.001")])
    assert [a.yshift for a in alone.layout.annotations] == [0]  # no epoch labels: the first row
    plot_px = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    assert (fig.layout.legend.y - 1) * plot_px >= 2 * MARK_ROW_PX  # the legend stands above both rows


def test_a_label_too_long_for_either_side_is_cut_short_and_labels_at_one_step_share_one():
    """A steering mark names every knob it changed; in the middle of a short run it fits neither side of its
    line. On a chart of one step, two changes at that step shared nothing (their room was zero wide)."""
    long = "d_learning_rate → 0.0002, g_learning_rate → 0.0002, label_noise → 0.1"
    fig = charts.curves_figure({"d_loss": exact(np.ones(100))}, events=[(50, long)])
    [note] = fig.layout.annotations
    assert note.text.endswith("…") and long.startswith(note.text[:-1]) and note.hovertext == long
    [(lo, hi)] = _label_rooms(fig, 1, 100)
    assert 1 <= lo and hi <= 100  # within the data: the axis is not widened
    one = charts.curves_figure({"d_loss": exact([1.0])}, events=[(1, "lr → 1e-4"), (1, "one full step")])
    assert [a.text for a in one.layout.annotations] == ["lr → 1e-4 (+1 more)"]


@pytest.mark.parametrize("steps", [400, 1150, 1350, 1884, 2600, 4700])
def test_every_epoch_label_names_the_line_it_is_drawn_at(steps):
    """Epochs of 157 steps (the lab's GAN runs): a label drawn left of its line is that line's label."""
    curves = {"d_loss": exact(np.ones(steps))}
    fig = charts.curves_figure(curves, epoch_steps=list(range(157, steps, 157)), total_steps=30 * 157)
    notes = [(a.x, a.text) for a in fig.layout.annotations]
    assert notes and all(x == 157 * int(text.removeprefix("epoch ")) for x, text in notes), notes


def test_the_line_goes_through_bucket_means_and_the_band_spans_their_extremes():
    curve = Curve(10)
    values = np.tile([0.0, 0.0, 0.0, 4.0], 25)  # mean 1, min 0, max 4 per bucket of 4 or more
    for i, v in enumerate(values, 1):
        curve.append(i, float(v))
    fig = charts.curves_figure({"loss": curve.points()}, options=ChartOptions(smoothing=0.0))
    line = _trace(fig, "loss")
    assert np.allclose(line.y, 1.0)
    band_hi, band_lo = _trace(fig, "loss max"), _trace(fig, "loss range")
    assert np.allclose(band_hi.y, 4.0) and np.allclose(band_lo.y, 0.0) and band_lo.fill == "tonexty"


@pytest.mark.parametrize("mode", ["step", "samples", "time"])
def test_x_axis_modes(mode):
    times = np.array([0.5, 1.0, 4.0, 9.0], np.float32)  # a run of known timestamps
    curves = {"loss": exact([4.0, 3.0, 2.0, 1.0], times)}
    fig = charts.curves_figure(curves, [2, 4], total_steps=4, batch_size=32, options=ChartOptions(x=mode))
    x = list(_trace(fig, "loss").x)
    expected = {"step": [1, 2, 3, 4], "samples": [32, 64, 96, 128], "time": [0.5, 1.0, 4.0, 9.0]}[mode]
    assert x == pytest.approx(expected)
    assert fig.layout.xaxis.title.text == charts.X_MODES[mode]
    assert [s.x0 for s in fig.layout.shapes] == pytest.approx([expected[1]])  # epoch 1 ends at step 2


def test_log_y_and_ignoring_outliers():
    values = np.ones(200)
    values[100] = 1000.0  # one spike
    fig = charts.curves_figure({"loss": exact(values)}, options=ChartOptions(log_y=True, ignore_outliers=True))
    axis = fig.layout.yaxis
    assert axis.type == "log"
    assert axis.range[1] < np.log10(1000.0)  # the spike is outside the robust range
    plain = charts.curves_figure({"loss": exact(values)})
    assert plain.layout.yaxis.type is None and plain.layout.yaxis.range is None


def test_compare_on_a_wall_time_axis_shows_the_faster_run_arriving_sooner():
    same = np.linspace(1.0, 0.1, 50)
    slow = CurvePoints.exact(np.arange(1, 51), same, np.arange(1, 51) * 2.0)
    fast = CurvePoints.exact(np.arange(1, 51), same, np.arange(1, 51) * 1.0)
    fig = charts.compare_figure([("slow", {"loss": slow}, 64), ("fast", {"loss": fast}, 64)], ChartOptions(x="time"))
    assert _trace(fig, "fast").x[-1] == pytest.approx(50.0) and _trace(fig, "slow").x[-1] == pytest.approx(100.0)
    assert fig.layout.xaxis.domain == (0.0, 1.0)  # its one panel spans the width (it took the left half)


def test_vectorised_ema_equals_the_loop_and_skips_nan():
    rng = np.random.default_rng(0)
    values = rng.normal(size=5000)
    values[[3, 400, 401]] = np.nan
    for a in (0.3, 0.6, 0.9, 0.99, 0.999):
        expected, last, weight = [], 0.0, 0.0
        for v in values:
            if np.isfinite(v):
                last, weight = a * last + (1 - a) * v, a * weight + (1 - a)
            expected.append(last / weight if weight else np.nan)
        np.testing.assert_allclose(ema(values, a), np.asarray(expected, np.float32), rtol=2e-5, atol=1e-6)


def test_ema_per_unit_of_x_equals_the_loop_over_uneven_gaps():
    rng = np.random.default_rng(1)
    values = rng.normal(size=20000)
    x = np.cumsum(rng.integers(1, 6, size=20000)).astype(np.float64)  # 1 to 5 steps a point, 60,000 in all
    for a in (0.6, 0.99, 0.999):
        expected, last, weight = [], 0.0, 0.0
        for i, v in enumerate(values):
            gap = x[i] - x[i - 1] if i else np.median(np.diff(x))
            decay = a**gap
            last, weight = decay * last + (1 - decay) * v, decay * weight + (1 - decay)
            expected.append(last / weight)
        np.testing.assert_allclose(ema(values, a, x), np.asarray(expected, np.float32), rtol=1e-4, atol=1e-5)


def test_ema_of_2000_points_costs_well_under_a_millisecond_per_curve():
    values = np.random.default_rng(0).normal(size=2000)
    started = time.perf_counter()
    for _ in range(100):
        ema(values, 0.9)
    assert (time.perf_counter() - started) / 100 < 0.002  # the loop took ~4 ms


@pytest.mark.parametrize("panels", [1, 2, 5, 14, 30])
def test_any_number_of_panels_fit_the_grid_without_overlapping(panels):
    """A GAN run with its quality scores has a dozen metrics; every panel keeps a positive size and no two
    panels share a patch of the figure."""
    same = exact(np.linspace(1.0, 0.1, 10))
    fig = charts.compare_figure([("a", {f"metric_{i}": same for i in range(panels)}, 64)])
    ys = {k[5:]: tuple(fig.layout[k].domain) for k in fig.layout if k.startswith("yaxis")}
    xs = {k[5:]: tuple(fig.layout[k].domain) for k in fig.layout if k.startswith("xaxis")}
    assert len(ys) == len(xs) == panels
    boxes = [(xs[k], ys[k]) for k in ys]
    for (x0, x1), (y0, y1) in boxes:
        assert 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0
    for i, (xa, ya) in enumerate(boxes):
        for xb, yb in boxes[i + 1 :]:
            apart_x = xa[1] <= xb[0] or xb[1] <= xa[0]
            apart_y = ya[1] <= yb[0] or yb[1] <= ya[0]
            assert apart_x or apart_y


def test_compare_panels_group_a_gans_curves_and_each_panel_names_its_line_styles():
    names = ["d_loss", "g_loss", "d_real", "d_fake", "quality/legible", "quality/class_balance", "quality/frechet"]
    declared = [("losses", ("d_loss", "g_loss")), ("D's verdict", ("d_real", "d_fake"))]
    panels = charts.compare_panels(names + ["lr"], declared)
    assert [t for t, _ in panels] == [
        "losses",
        "D's verdict",
        "quality: legible and class balance",
        "quality: Fréchet distance (lower is better)",
        "lr",
    ]
    curve = exact(np.linspace(1.0, 0.1, 10))
    real = exact([0.95] * 10)
    runs = [(label, {n: curve for n in names} | {"quality/real_legible": real}, 64) for label in ("A", "B")]
    fig = charts.compare_figure(runs, panels=panels[:3])
    in_legend = [t.name for t in fig.data if t.showlegend is not False and t.legend in (None, "legend")]
    assert in_legend == ["A", "B", "real digits"]  # each run once, whatever the number of panels
    styles = {(t.legend, t.name, t.line.dash) for t in fig.data if t.legend not in (None, "legend")}
    assert ("legend2", "d_loss", "solid") in styles and ("legend2", "g_loss", "dash") in styles
    g_lines = [t for t in fig.data if t.name == "A" and t.hovertemplate.endswith("g_loss</extra>")]
    assert [t.line.dash for t in g_lines] == ["dash"]
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["<b>losses</b>", "<b>D's verdict</b>", "<b>quality: legible and class balance</b>"]


def test_smoothing_counts_in_steps_so_a_run_logged_every_fifth_step_looks_as_smooth():
    """Runs log at different rates: a per-point average smooths one logged every fifth step five times
    less. Smoothed per step, a jump reads the same at every step both runs have."""
    values = np.where(np.arange(1, 101) > 50, 1.0, 0.0)
    every = exact(values)
    fifth = CurvePoints.exact(np.arange(5, 101, 5), values[4::5])
    fig = charts.compare_figure([("every", {"loss": every}, 64), ("fifth", {"loss": fifth}, 64)], ChartOptions())
    a, b = _trace(fig, "every"), _trace(fig, "fifth")
    np.testing.assert_allclose(np.asarray(a.y)[4::5], b.y, rtol=1e-5, atol=1e-6)
    per_point = ema(values[4::5], 0.6)
    assert not np.allclose(per_point, b.y, atol=1e-3)  # what counting points used to draw


def test_scores_in_the_compare_view_are_drawn_as_recorded_never_smoothed():
    """A Fréchet distance falling 400 -> 137 plotted near 210 at smoothing 0.6 (issue 25): scores are sparse."""
    recorded = np.array([400.0, 300.0, 200.0, 150.0, 137.0])
    score = CurvePoints.exact(np.arange(1, 6) * 250, recorded, np.arange(1, 6) * 10.0)
    loss = exact(np.linspace(2.0, 1.0, 50))
    fig = charts.compare_figure([("run", {"quality/frechet": score, "loss": loss}, 64)], ChartOptions(smoothing=0.6))
    frechet, smoothed_loss = [t for t in fig.data if t.name == "run"]
    assert np.allclose(frechet.y, recorded) and frechet.mode == "lines+markers"
    assert not np.allclose(smoothed_loss.y, np.linspace(2.0, 1.0, 50))  # the per-step curve is smoothed


def test_digit_bars_of_all_zeros_keep_an_axis_from_zero_up_and_every_digit():
    fig = charts.digit_bars([0.0] * 10, "Digits read")
    low, high = fig.layout.yaxis.range
    assert low == 0 and 0 < high <= 1.05
    assert fig.layout.xaxis.type == "category" and list(fig.data[0].x) == [str(d) for d in range(10)]


def test_a_metric_named_with_html_is_text_in_every_trace_and_hover():
    """Plotly renders a subset of HTML in names and hovers: a module's metric named with a link is shown as
    written, in its line, its raw means, its epoch means and its validation, never as a link."""
    name = '<a href="https://evil.example">loss</a>'
    points = EpochPoints(np.array([10, 20]), np.array([0.6, 0.2], np.float32), np.zeros(2, np.float32))
    fig = charts.curves_figure(
        {name: exact(np.linspace(1, 0.1, 20))},
        epoch_steps=[10, 20],
        epoch_curves={f"epoch/{name}": points, f"epoch/val_{name}": points},
        total_steps=20,
    )
    shown = [text for t in fig.data for text in (t.name, t.hovertemplate) if text]
    assert len(shown) >= 7  # line, raw, epoch means, validation: names and hovers
    assert not any("<a" in text for text in shown), shown
    assert any("&lt;a href=" in text for text in shown)
