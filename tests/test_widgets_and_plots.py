"""Panels driven as a learner would drive them: set control values, press buttons, read the panel."""
import numpy as np
import pytest
from matplotlib.figure import Figure

from lrkit import setup
from lrkit.experiments import build_learner
from lrkit.finder import find_lr
from lrkit.multiseed import spread_of
from lrkit.plots import plot_fit_histories, plot_lr_find, plot_lr_schedule, plot_seed_spread
from lrkit.training import fit_and_record
from lrkit.widgets import FinderPanel, LRTrialPanel


@pytest.fixture(scope="module")
def session():
    return setup("ci", seed=0, style=False)


@pytest.fixture(scope="module")
def build(session):
    def build(bs, opt, seed):
        return build_learner(session, dataset="digits", model="small_cnn", bs=bs, opt=opt, seed=seed, n_train=320)
    return build


@pytest.fixture(scope="module")
def results(build):
    return [find_lr(build(32, "sgd", s), num_it=40, seed=s, progress=False) for s in (0, 1)]


def _lines(ax):
    return [l.get_label() for l in ax.get_lines()]


def test_plots_draw_on_the_given_axes_and_return_them(results):
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_lr_find(results[0], ax=ax, methods=["valley", "steep"]) is ax
    labels = _lines(ax)
    assert labels[0] == "smoothed loss" and any(l.startswith("valley: ") for l in labels)
    assert ax.get_xscale() == "log"
    ax2 = Figure().add_subplot()
    assert plot_lr_schedule(results[0], ax=ax2) is ax2 and ax2.get_yscale() == "log"
    np.testing.assert_allclose(ax2.get_lines()[0].get_ydata(), results[0].lrs)
    ax3 = Figure().add_subplot()
    plot_seed_spread(spread_of(results), ax=ax3)
    assert "median of 2 seeds" in _lines(ax3)


def test_fit_history_plot_marks_divergence_and_chance(build):
    runs = [fit_and_record(build(32, "adam", 0), 1, lr, progress=False) for lr in (1e-3, 10.0)]
    ax = plot_fit_histories(runs, "accuracy", ax=Figure().add_subplot(), chance=0.1)
    assert "chance" in _lines(ax)
    with pytest.raises(ValueError, match="Expected metric"):
        plot_fit_histories(runs, "f1")


def test_finder_panel_redraws_picture_controls_without_training(build, results):
    calls = []

    def counting_build(*args):
        calls.append(args)
        return build(*args)

    panel = FinderPanel(counting_build, num_it=40, bs=32, spread=spread_of(results[:1]))
    first = panel.figure
    assert isinstance(first, Figure) and len(first.axes) == 2
    panel.methods.value = ("valley", "minimum", "steep")
    labels = _lines(panel.figure.axes[1])
    assert sum(l.startswith(("valley:", "minimum:", "steep:")) for l in labels) == 3
    before = panel.figure.axes[1].get_lines()[0].get_ydata().copy()
    panel.beta.value = 0.5  # less smoothing: the same run, another curve
    after = panel.figure.axes[1].get_lines()[0].get_ydata()
    assert not np.allclose(before, after)
    panel.show_raw.value = True
    assert "raw loss" in _lines(panel.figure.axes[1])
    assert calls == []  # none of that trained anything


def test_finder_panel_run_button_trains_with_the_controls(build):
    panel = FinderPanel(build, num_it=30, bs=32)
    panel.num_it.value, panel.bs.value, panel.n_seeds.value, panel.opt.value = 30, 16, 2, "adam"
    panel.run_button.click()
    assert "2 run(s), batch size 16, adam" in panel.status.value
    assert [r.batch_size for r in panel.spread.results] == [16, 16]
    assert "median of 2 seeds" in _lines(panel.figure.axes[1])


def test_finder_panel_shows_errors_in_the_panel(build):
    panel = FinderPanel(build, num_it=30)
    panel.start_lr.value, panel.end_lr.value = 1e-2, 1e-2
    panel.run_button.click()  # must not raise
    assert "ValueError" in panel.status.value and "start_lr &lt; end_lr" in panel.status.value
    assert panel.figure is None


def test_lr_trial_panel_trains_and_reports(build):
    def train(lr, epochs):
        return fit_and_record(build(32, "adam", 0), epochs, lr, progress=False, label=f"mine {lr:.0e}")

    panel = LRTrialPanel(train, references=[], lr=1e-3, epochs=1, chance=0.1)
    panel.lr.value = 3.0
    panel.train_button.click()
    assert len(panel.trials) == 1 and "lr 3.0e+00" in panel.status.value
    assert any(l.startswith("mine 3e+00") for l in _lines(panel.figure.axes[0]))
    panel.clear_button.click()
    assert panel.trials == []


def test_lr_trial_panel_shows_training_errors(build):
    panel = LRTrialPanel(lambda lr, epochs: fit_and_record(build(32, "adam", 0), 0, lr), references=[])
    panel.train_button.click()
    assert "Expected at least one epoch, got 0" in panel.status.value
