"""Panels driven as a learner would drive them: set control values, press buttons, read the panel."""
import numpy as np
import pytest
from matplotlib.figure import Figure

from lrkit import setup
from lrkit.runs.learners import build_learner
from lrkit.methods.range_test import find_lr
from lrkit.runs.seeds import spread_of
from lrkit.show.training_plots import plot_fit_histories
from lrkit.show.range_test_plots import plot_lr_find, plot_lr_schedule, plot_seed_spread
from lrkit.runs.training import fit_and_record
from lrkit.show.finder_panel import FinderPanel
from lrkit.show.training_panels import LRTrialPanel


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
    return [l.get_label() for l in ax.get_lines() if not l.get_label().startswith("_")]


def test_plots_draw_on_the_given_axes_and_return_them(results):
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_lr_find(results[0], ax=ax, methods=["valley", "steep"]) is ax
    labels = _lines(ax)
    assert labels[0] == "smoothed loss" and any(l.startswith("valley: ") for l in labels)
    assert ax.get_xscale() == "log"
    plot_lr_find(results[1], ax=ax, methods=[], label="overlay", ls="--")  # dashed, in the legend too
    assert [h.get_linestyle() for h in ax.get_legend().legend_handles if h.get_label() == "overlay"] == ["--"]
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


def test_schedule_panel_reshapes_live_and_trains_on_demand(build):
    from lrkit.methods.schedules import one_cycle_shape
    from lrkit.show.training_panels import SchedulePanel

    trained = []

    def train(lr_max, **kw):
        trained.append((lr_max, kw))
        return fit_and_record(build(32, "adam", 0), 1, lr_max, method="one_cycle", progress=False, label="mine", **kw)

    panel = SchedulePanel(2, 10, lr_max=1e-2, train=train)
    lr_line = panel.figure.axes[0].get_lines()[0]
    np.testing.assert_allclose(lr_line.get_ydata(), one_cycle_shape(2, 10, 1e-2).lrs)
    panel.pct_start.value, panel.div.value = 0.5, 10
    lrs = panel.figure.axes[0].get_lines()[0].get_ydata()
    assert int(np.argmax(lrs)) == 10 and lrs[0] == pytest.approx(1e-3)
    panel.div_final.value = 1e3  # the title gives the schedule's ends, so it follows div_final
    assert panel.figure.axes[0].get_title().endswith("LR 1.0e-03 -> 1.0e-02 -> 1.0e-05")
    panel.moms.value = (0.8, 0.9)
    mom_ax = next(ax for ax in panel.figure.axes if ax.get_ylabel().startswith("momentum"))
    moms = mom_ax.get_lines()[0].get_ydata()
    assert moms.max() == pytest.approx(0.9) and moms.min() == pytest.approx(0.8, abs=1e-3)
    assert trained == []  # reshaping trains nothing
    panel.train_button.click()
    assert trained == [(pytest.approx(1e-2), {"div": 10, "div_final": pytest.approx(1e3), "pct_start": 0.5,
                                               "moms": (0.9, 0.8, 0.9)})]
    assert "trained: final validation loss" in panel.status.value
    assert "mine" in _lines(next(ax for ax in panel.figure.axes if ax.get_ylabel() == "valid loss"))


def test_lr_per_epoch_plot_marks_the_drop(build):
    from fastai.callback.tracker import ReduceLROnPlateau

    from lrkit.show.training_plots import plot_lr_per_epoch

    r = fit_and_record(build(32, "adam", 0), 3, 1e-2, progress=False,
                       cbs=[ReduceLROnPlateau(patience=0, min_delta=10.0)])  # only epoch 1 counts as better
    assert r.lr_per_epoch == pytest.approx((1e-2, 1e-2, 1e-3))
    ax = plot_lr_per_epoch([r], ax=Figure().add_subplot())
    assert [t.get_text() for t in ax.texts] == ["LR / 10"]
    # 1cycle's last epoch anneals far below the epoch before it: a schedule, not a drop to label
    cycle = fit_and_record(build(32, "adam", 0), 3, 1e-2, method="one_cycle", progress=False)
    assert cycle.lr_per_epoch[-1] < cycle.lr_per_epoch[-2] / 2
    assert len(plot_lr_per_epoch([cycle], ax=Figure().add_subplot()).texts) == 0


def test_branch_lrs_take_the_colours_of_their_order(build):
    from matplotlib.colors import to_hex

    from lrkit.show.training_plots import plot_branch_lrs, plot_fit_histories

    long = fit_and_record(build(32, "adam", 0), 2, 1e-3, progress=False, label="long")
    short = fit_and_record(build(32, "adam", 0), 1, 1e-3, progress=False, label="short")
    lrs = {l.get_label(): to_hex(l.get_color()) for l in plot_branch_lrs([short, long], ax=Figure().add_subplot()).lines}
    acc = {l.get_label(): to_hex(l.get_color()) for l in plot_fit_histories([short, long], "accuracy",
                                                                             ax=Figure().add_subplot()).lines}
    assert lrs["short"] == acc["short"] == to_hex("C0") and lrs["long"] == acc["long"] == to_hex("C1")


def test_medians_over_seeds(build):
    from lrkit.runs.compare import median_history, run_conditions, summary_rows

    def train(seed, label, lr):
        return fit_and_record(build(32, "adam", seed), 2, lr, progress=False, label=label)

    grid = run_conditions(train, {"low": {"lr": 1e-4}, "high": {"lr": 3e-3}}, seeds=[0, 1, 2], progress=False)
    assert [len(v) for v in grid.values()] == [3, 3]
    m = median_history(grid["high"])
    assert m.accuracy[-1] == pytest.approx(np.median([r.accuracy[-1] for r in grid["high"]]))
    rows = summary_rows(grid)
    assert rows["high"]["final accuracy (median)"] > rows["low"]["final accuracy (median)"]


def test_batch_size_panel_draws_from_the_cache_and_computes_only_what_is_missing(tmp_path, session):
    from lrkit.core.cache import ResultCache
    from lrkit.runs.learners import sweep_builder
    from lrkit.methods.range_test import FinderSettings
    from lrkit.runs.sweeps import SweepSpec, run_sweep
    from lrkit.show.batch_panel import BatchSizePanel

    spec = SweepSpec(dataset="digits", model="tiny_cnn", opt="sgd", n_train=200, pretrain_epochs=0,
                     finder=FinderSettings(num_it=20))
    cache, built = ResultCache(tmp_path), []
    build = sweep_builder(session)

    def counting_build(spec, bs, seed):
        built.append((bs, seed))
        return build(spec, bs, seed)

    run_sweep(spec, [8], [0], build=build, cache=cache, progress=False)  # computed ahead, as by the CLI
    panel = BatchSizePanel(spec, counting_build, cache=cache, batch_sizes=(8, 16), seeds=1, datasets=("digits",))
    assert built == [] and "1 cell(s) from the cache; 1 missing" in panel.status.value
    assert _lines(panel.figure.axes[0]) == ["batch size 8"]
    panel.compute_button.click()
    assert built == [(16, 0)] and "computed 1 cell(s)" in panel.status.value
    assert sorted(_lines(panel.figure.axes[0])) == ["batch size 16", "batch size 8"]
    panel.batch_sizes.value = (8,)  # picture only: from the cache, no training
    assert built == [(16, 0)] and _lines(panel.figure.axes[0]) == ["batch size 8"]
    panel.batch_sizes.value = ()
    assert "Select at least one batch size" in panel.status.value
    # the gpu profile's batch sizes (up to 256) are all offered and selected
    gpu = BatchSizePanel(spec, counting_build, cache=cache, batch_sizes=(256, 8), seeds=1, datasets=("digits",))
    assert gpu.batch_sizes.value == (256, 8) and gpu.batch_sizes.options[0] == 256


def test_lr_vs_batch_plot_fits_both_rules():
    from lrkit.show.batch_plots import plot_lr_vs_batch

    per_seed = {4: [0.004, 0.004], 8: [0.007, 0.009], 16: [0.016], 32: [0.03, 0.034]}  # medians 1e-3 x B
    ax = plot_lr_vs_batch(per_seed, ax=Figure().add_subplot(), b_noise=300)
    labels = _lines(ax)
    assert "linear: LR ~ B" in labels and "square root: LR ~ sqrt(B)" in labels
    assert any(l.startswith("measured noise scale:") for l in labels)
    # linear data: the noise-scale shape's fit runs to the bound of its range (no bend), and its line,
    # which would lie on the linear rule's, is not drawn
    assert not any(l.startswith("same shape, fitted:") for l in labels)
    assert ax.get_title() == "fitted slope on log-log axes: 1.00"
    bent = {b: [float(0.05 / (1 + 16 / b))] for b in (4, 8, 16, 32, 64)}  # LR_max / (1 + 16/B)
    labels = _lines(plot_lr_vs_batch(bent, ax=Figure().add_subplot(), b_noise=300))
    assert "same shape, fitted: LR_max/(1 + 16/B)" in labels


def test_finder_panel_picture_controls_also_act_on_several_seeds(build, results):
    panel = FinderPanel(build, num_it=40, spread=spread_of(results))
    n_lines = len(panel.figure.axes[1].get_lines())
    panel.show_raw.value = True  # one faint raw curve per seed
    assert len(panel.figure.axes[1].get_lines()) == n_lines + len(results)
    panel.methods.value = ("valley", "steep")
    assert {"valley per seed", "steep per seed"} <= set(_lines(panel.figure.axes[1]))


def test_conditions_panel_reads_the_cache_and_trains_only_what_is_missing(tmp_path, session):
    from lrkit.core.cache import ResultCache
    from lrkit.runs.compare import run_conditions
    from lrkit.runs.conditions import train_condition
    from lrkit.show.conditions_panel import ConditionsPanel

    conditions = {"Adam, cosine": {"optimizer": "adam", "schedule": "cosine"},
                  "Prodigy, constant": {"optimizer": "prodigy", "schedule": "constant"}}
    key, cache, trained, busy = {"experiment": "test-conditions"}, ResultCache(tmp_path), [], []

    def train(seed, label, optimizer, schedule):
        trained.append((label, seed))
        if panel is not None:
            busy.append(panel.compute_button.disabled)
        learn = build_learner(session, dataset="digits", model="tiny_cnn", bs=32, opt="adam", seed=seed, n_train=160)
        return train_condition(learn, optimizer, schedule, 1, None if optimizer == "prodigy" else 3e-3, label=label)

    panel = None
    run_conditions(train, {"Adam, cosine": conditions["Adam, cosine"]}, [0], progress=False, cache_key=key,
                   cache=cache)  # computed ahead, as by the notebook
    trained.clear()
    colors = {"Adam, cosine": "tab:red", "Prodigy, constant": "tab:green"}  # the lesson's, in both plots
    with pytest.raises(ValueError, match="Expected one colour for each condition"):
        ConditionsPanel(conditions, train, [0], cache_key=key, cache=cache, colors={"Adam, cosine": "tab:red"})
    panel = ConditionsPanel(conditions, train, [0], cache_key=key, cache=cache, colors=colors)
    assert trained == [] and "1 of 2 condition(s) from the cache" in panel.status.value
    assert "1 run(s) missing" in panel.status.value
    assert _lines(panel.figure.axes[0]) == ["Adam, cosine"]
    panel.compute_button.click()
    assert trained == [("Prodigy, constant", 0)] and busy == [True]  # disabled while it trained
    assert not panel.compute_button.disabled and "2 of 2" in panel.status.value
    assert sorted(_lines(panel.figure.axes[1])) == ["Adam, cosine", "Prodigy, constant"]  # the steps they took
    for ax in panel.figure.axes:
        assert {line.get_label(): line.get_color() for line in ax.get_lines() if line.get_label() in colors} == colors
        assert ax.get_legend() is None  # one legend for both, beside them
    assert [t.get_text() for t in panel.figure.legends[0].get_texts()] == list(colors)
    panel.metric.value = "valid_loss"  # picture only: from the cache, no training
    assert len(trained) == 1 and panel.figure.axes[0].get_ylabel() == "valid loss"
    panel.chosen.value = ()
    assert "Select at least one condition" in panel.status.value


def test_panel_buttons_are_disabled_while_training_and_enabled_after_an_error(build):
    seen = []

    def train(lr, epochs):
        seen.append((panel.train_button.disabled, panel.clear_button.disabled))
        if lr > 1:
            raise ValueError("too large for this test")
        return fit_and_record(build(32, "adam", 0), epochs, lr, progress=False)

    panel = LRTrialPanel(train, references=[], lr=1e-3, epochs=1)
    panel.train_button.click()
    panel.lr.value = 3.0
    panel.train_button.click()
    assert seen == [(True, True), (True, True)]
    assert "too large for this test" in panel.status.value
    assert not panel.train_button.disabled and not panel.clear_button.disabled


def test_plateau_panel_trains_with_its_settings_and_draws_beside_the_stored_runs(build):
    from fastai.callback.tracker import ReduceLROnPlateau

    from lrkit.show.training_panels import PlateauPanel

    asked = []

    def train(patience, factor, min_delta):
        asked.append((patience, factor, min_delta))
        cb = ReduceLROnPlateau(monitor="valid_loss", patience=patience, factor=factor, min_delta=min_delta)
        return fit_and_record(build(32, "adam", 0), 3, 1e-4, cbs=[cb], progress=False, label="mine")

    reference = fit_and_record(build(32, "adam", 0), 3, 1e-4, progress=False, label="constant")
    panel = PlateauPanel(train, references=[reference])
    assert _lines(panel.figure.axes[1]) == ["constant"]
    panel.patience.value, panel.factor.value, panel.min_delta.value = 0, 3.0, 0.1
    panel.train_button.click()
    assert asked == [(0, 3.0, 0.1)]
    # at this slow LR no epoch improves by the threshold of 0.1: the stall after epoch 2 divides the LR by 3
    assert panel.trials[0].lr_per_epoch == pytest.approx((1e-4, 1e-4, 1e-4 / 3))
    assert "lower LR from epoch(s) [3]" in panel.status.value
    assert _lines(panel.figure.axes[1]) == ["constant", "mine"]
    panel.clear_button.click()
    assert _lines(panel.figure.axes[1]) == ["constant"]


def test_final_metric_against_lr_draws_every_seed_and_the_median():
    from lrkit.runs.training import FitResult
    from lrkit.show.training_plots import plot_final_vs_lr

    def run(acc):
        return FitResult("r", 1e-3, "fit", (1.0,), (1.0,), (0.5, acc), (1.0,), False)

    sweep = {"1cycle": {1e-3: [run(0.8), run(0.9), run(0.85)], 1e-2: [run(0.7), run(0.75), run(0.6)]},
             "constant": {1e-3: [run(0.5), run(0.6), run(0.55)], 1e-2: [run(0.2), run(0.3), run(0.1)]}}
    ax = plot_final_vs_lr(sweep, mark={"range test": 3e-3})
    medians = [line for line in ax.lines if line.get_linestyle() == "-"]
    assert [list(line.get_ydata()) for line in medians] == [[0.85, 0.7], [0.55, 0.2]]
    assert sum(len(line.get_xdata()) for line in ax.lines if line.get_marker() == "o") == 12  # every seed
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "final accuracy"
    with pytest.raises(ValueError, match="metric 'accuracy' or 'valid_loss'"):
        plot_final_vs_lr(sweep, "train_loss")


def test_group_drift_plot_and_the_panel_keep_each_conditions_colour():
    from matplotlib.colors import to_hex

    from lrkit.runs.training import FitResult
    from lrkit.show.training_panels import DiscriminativePanel
    from lrkit.show.training_plots import plot_group_drift

    def run(label, drift, acc=0.8):
        return FitResult(label, 1e-3, "one_cycle", (1.0,), (1.0,), (0.5, acc), (1.0,), False, group_drift=drift)

    grid = {"frozen body": [run("frozen body", (0.0, 0.0, 2.0)), run("frozen body", (0.0, 0.0, 3.0))],
            "all at once": [run("all at once", (0.3, 0.5, 4.0)), run("all at once", (0.5, 0.7, 5.0))]}
    ax = plot_group_drift(grid, ["early", "late", "head"], colors=["tab:blue", "tab:red"])
    heights = {(to_hex(p.get_facecolor()[:3]), round(p.get_height(), 6)) for p in ax.patches}
    # medians per group; the frozen groups (no movement) draw no bar on the log axis
    assert heights == {("#1f77b4", 2.5), ("#d62728", 0.4), ("#d62728", 0.6), ("#d62728", 4.5)}
    with pytest.raises(ValueError, match="one colour per condition"):
        plot_group_drift(grid, ["early", "late", "head"], colors=["tab:blue"])
    with pytest.raises(ValueError, match="3 drifts per run"):
        plot_group_drift({"old": [run("old", ())]}, ["early", "late", "head"])

    refs = [run("frozen body", ()), run("all at once", ())]
    panel = DiscriminativePanel(["early", "late", "head"], references=refs, reference_colors=["tab:blue", "tab:red"])
    lines = [l for l in panel.figure.axes[1].get_lines() if not l.get_label().startswith("_")]
    assert [to_hex(l.get_color()) for l in lines] == ["#1f77b4", "#d62728"]
    with pytest.raises(ValueError, match="one colour per reference run"):
        DiscriminativePanel(["early", "late", "head"], references=refs, reference_colors=["tab:blue"])
