"""Smith's recipe (lesson 10): its schedules as fastai trains them, the readings it makes from the
validation loss, its claims and its panel, on real training with a few images."""
import math

import numpy as np
import pytest

from lrkit import setup
from lrkit.methods.schedules import triangular
from lrkit.runs.claims import hit_rate_claim, rank_agreement_claim
from lrkit.runs.learners import build_learner
from lrkit.runs.recipe import (TRIANGLE_DIV, epochs_to_target, fit_schedule, per_seed_picks,
                               recipe_condition, valid_losses_at)
from lrkit.runs.training import FitResult
from lrkit.show.recipe_plots import (plot_early_vs_final, plot_grid_early_vs_final, plot_to_target,
                                     plot_valid_loss_vs_knob)


@pytest.fixture(scope="module")
def session():
    return setup("ci", seed=0, style=False)


def _build(session, seed=0, bs=16):
    return build_learner(session, dataset="digits", model="tiny_cnn", bs=bs, opt="adam", seed=seed, n_train=64,
                         n_valid=64)


def _run(valid_loss, accuracy=None, label="r") -> FitResult:
    """A record of a run with the given validation losses per epoch (the readings only look at those)."""
    n = len(valid_loss)
    accuracy = accuracy or [0.5] * n
    return FitResult(label, 1e-3, "one_cycle", (1.0,) * n, tuple(valid_loss), tuple(accuracy), (0.1,) * n, False)


def test_triangular_sets_smiths_cyclical_lr_at_every_iteration_with_a_constant_momentum(session):
    learn = _build(session)
    per_epoch = len(learn.dls.train)
    r = fit_schedule(learn, "triangular", 2, 1e-2, cycle_epochs=1.0)
    expected = triangular(1e-2 / TRIANGLE_DIV, 1e-2, per_epoch / 2)
    assert r.method == "triangular" and len(r.lrs) == 2 * per_epoch
    assert all(math.isclose(lr, expected(i), rel_tol=1e-9) for i, lr in enumerate(r.lrs)), r.lrs
    assert max(r.lrs) == pytest.approx(1e-2)
    assert r.lrs[0] == r.lrs[per_epoch] == pytest.approx(1e-2 / TRIANGLE_DIV)  # every epoch starts at the bottom
    assert len(set(r.moms)) == 1  # the 2015 policy leaves the momentum alone


def test_one_cycle_moves_the_momentum_the_other_way_and_records_the_weight_decay(session):
    r = fit_schedule(_build(session), "one_cycle", 2, 1e-2, wd=0.1)
    peak = int(np.argmax(r.lrs))
    assert r.wd == 0.1 and r.method == "one_cycle"
    assert r.moms[0] == pytest.approx(0.95) and r.moms[peak] == pytest.approx(0.85, abs=1e-3)
    constant = fit_schedule(_build(session), "constant", 1, 3e-3)
    assert set(constant.lrs) == {3e-3} and constant.method == "constant"


def test_a_step_schedule_divides_the_lr_by_ten_after_each_drop(session):
    learn = _build(session)
    per_epoch = len(learn.dls.train)
    r = fit_schedule(learn, "step", 3, 1e-2, drops=[1, 2])
    assert r.method == "step"
    assert [r.lrs_in_epoch(e) for e in range(3)] == [(1e-2,) * per_epoch, (1e-3,) * per_epoch, (1e-4,) * per_epoch]


@pytest.mark.parametrize("schedule, lr, wd, cycle, match", [
    ("cosine", 1e-2, None, 1.0, "Unknown schedule 'cosine'"),
    ("one_cycle", 0.0, None, 1.0, "positive lr_max"),
    ("one_cycle", float("nan"), None, 1.0, "positive lr_max"),
    ("one_cycle", 1e-2, -1.0, 1.0, "weight decay of 0 or more"),
    ("triangular", 1e-2, None, 0.01, "cycle of at least two iterations"),
    ("step", 1e-2, None, 1.0, "drops after epochs from 1 to 0"),
])
def test_bad_schedule_settings_say_what_was_expected(session, schedule, lr, wd, cycle, match):
    with pytest.raises(ValueError, match=match):
        fit_schedule(_build(session), schedule, 1, lr, wd=wd, cycle_epochs=cycle)


def test_epochs_to_target_counts_from_one_and_says_none_when_never_reached():
    assert epochs_to_target([0.5, 0.7, 0.9, 0.8], 0.7) == 2
    assert epochs_to_target([0.5, 0.7], 0.95) is None


def test_the_per_seed_picks_read_the_validation_loss():
    runs = {0.01: [_run([1.0, 0.6]), _run([1.0, 0.5])],
            0.1: [_run([0.8, 0.55]), _run([0.9, 0.7])],
            10.0: [_run([0.7, float("nan")]), _run([2.0, 0.9])]}
    assert per_seed_picks(runs, 1) == [10.0, 0.1]
    assert per_seed_picks(runs) == [0.1, 0.01]  # a NaN never wins
    assert valid_losses_at(runs, 1)[0.1] == [0.8, 0.9]
    with pytest.raises(ValueError, match="epoch from 1 to 2"):
        valid_losses_at(runs, 3)
    with pytest.raises(ValueError, match="same number of seeds"):
        per_seed_picks({0.1: [_run([1.0])], 1.0: [_run([1.0]), _run([0.5])]})


def test_rank_agreement_is_plus_one_when_the_early_order_holds_and_says_when_it_flips():
    early = [[1.0, 2.0, 3.0, 4.0]] * 3
    holds = rank_agreement_claim("the order holds", early, [[0.1, 0.2, 0.3, 0.4]] * 3)
    assert holds.effects == (1.0, 1.0, 1.0) and holds.verdict == "shown"
    flips = rank_agreement_claim("the order holds", early, [[0.4, 0.3, 0.2, 0.1]] * 3)
    assert flips.verdict == "opposite" and "rank correlation" in flips.render()
    with pytest.raises(ValueError, match="at least three conditions"):
        rank_agreement_claim("x", [[1.0, 2.0]] * 2, [[1.0, 2.0]] * 2)
    with pytest.raises(ValueError, match="same seeds"):
        rank_agreement_claim("x", early, early[:2])


def test_a_hit_rate_is_read_against_chance():
    claim = hit_rate_claim("the early pick is the final pick", [True, True, True, True, False], chance=0.25)
    assert claim.effects == (0.75, 0.75, 0.75, 0.75, -0.25) and claim.agree == 4 and "over chance" in claim.render()
    assert hit_rate_claim("x", [False] * 5, chance=0.25).verdict == "opposite"
    with pytest.raises(ValueError, match="chance rate from 0 to below 1"):
        hit_rate_claim("x", [True, False], chance=1.0)


def test_recipe_plots_draw_on_the_given_axes():
    from matplotlib.figure import Figure

    constant = {1e-3: [_run([0.9, 0.8, 0.7], [0.6, 0.7, 0.8]), _run([0.9, 0.8, 0.7], [0.62, 0.7, 0.78])]}
    cycles = {1: [_run([0.8], [0.7]), _run([0.8], [0.72])], 2: [_run([0.8, 0.6], [0.7, 0.82])] * 2}
    ax = Figure().subplots()
    assert plot_to_target(constant, cycles, 0.8, ax=ax) is ax
    labels = [line.get_label() for line in ax.get_lines()]
    assert "constant 1.0e-03" in labels and "1cycle, a run per budget" in labels and "target" in labels
    settings = {"a": {0.1: constant[1e-3], 1.0: constant[1e-3]}}
    ax = Figure().subplots()
    assert plot_valid_loss_vs_knob(settings, 1, ax=ax) is ax and ax.get_ylabel() == "validation loss after epoch 1"
    with pytest.raises(ValueError, match="one colour per setting"):
        plot_valid_loss_vs_knob(settings, colors=["red", "blue"])
    ax = Figure().subplots()
    assert plot_early_vs_final({"a": constant[1e-3]}, 1, ax=ax, highlight="a") is ax
    assert ax.get_ylabel() == "final validation loss (median)"
    assert plot_early_vs_final({0.1: constant[1e-3]}, 1, final="accuracy", annotate=True).get_ylabel() == \
        "final accuracy (median)"
    with pytest.raises(ValueError, match="final='valid_loss' or 'accuracy'"):
        plot_early_vs_final({"a": constant[1e-3]}, 1, final="loss")
    # a grid: a colour per setting, the same shape for the same weight decay in every setting
    grid = {"a": {0.1: constant[1e-3], 1.0: constant[1e-3]}, "b": {0.1: constant[1e-3], 1.0: constant[1e-3]}}
    ax = Figure().subplots()
    assert plot_grid_early_vs_final(grid, 1, ax=ax, colors=["tab:blue", "tab:green"], highlight=("b", 1.0)) is ax
    points = [(line.get_color(), line.get_marker()) for line in ax.get_lines()]
    assert points == [("tab:blue", "o"), ("tab:blue", "s"), ("tab:green", "o"), ("tab:red", "s")]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "your choice", "wd 0.1", "wd 1"]
    with pytest.raises(ValueError, match="one colour per setting"):
        plot_grid_early_vs_final(grid, 1, colors=["tab:blue"])


def test_recipe_panel_draws_from_the_cache_and_trains_only_the_missing_cell(tmp_path, session):
    from lrkit.core.cache import ResultCache
    from lrkit.runs.compare import run_conditions
    from lrkit.show.recipe_panel import RecipePanel

    key, cache, trained, busy = {"experiment": "test-recipe"}, ResultCache(tmp_path), [], []
    panel = None

    def train(seed, label, lr, wd, bs):
        trained.append((label, seed))
        if panel is not None:
            busy.append(panel.compute_button.disabled)
        if lr > 1:
            raise ValueError("an LR this large is not for this test")
        return fit_schedule(_build(session, seed, bs), "one_cycle", 2, lr, wd=wd, label=label)

    cells = dict(recipe_condition(3e-3, wd, 16) for wd in (0.01, 0.1))
    run_conditions(train, cells, [0, 1], progress=False, cache_key=key, cache=cache)  # as the lesson does
    trained.clear()
    panel = RecipePanel(train, [0, 1], lrs=[3e-3, 2.0], wds=[0.01, 0.1], batch_sizes=[16, 32], early_epoch=1,
                        cache_key=key, cache=cache, value=(3e-3, 0.1, 16))
    assert trained == [] and "2 of 8 cells in the cache" in panel.status.value
    assert "lr 0.003, wd 0.1, bs 16: validation loss after epoch 1" in panel.status.value
    assert len(panel.figure.axes) == 2 and panel.figure.axes[0].get_ylabel() == "validation loss"
    # right: a colour per setting, a shape per weight decay, the chosen cell in red
    assert [(line.get_color(), line.get_marker()) for line in panel.figure.axes[1].get_lines()] == [
        ("C0", "o"), ("tab:red", "s")]
    coloured = RecipePanel(train, [0, 1], lrs=[3e-3, 2.0], wds=[0.01, 0.1], batch_sizes=[16, 32], early_epoch=1,
                           cache_key=key, cache=cache, value=(3e-3, 0.1, 16), colors={(3e-3, 16): "tab:purple"})
    assert coloured.figure.axes[1].get_lines()[0].get_color() == "tab:purple"  # the lesson's colour
    panel.bs.value = 32  # not trained: the panel says what to do, and trains nothing by itself
    assert trained == [] and "not in the cache yet, press Compute missing" in panel.status.value
    panel.compute_button.click()
    assert trained == [("lr 0.003, wd 0.1, bs 32", 0), ("lr 0.003, wd 0.1, bs 32", 1)] and busy == [True, True]
    assert not panel.compute_button.disabled and "3 of 8 cells in the cache" in panel.status.value
    panel.lr.value = 2.0
    panel.compute_button.click()  # an error is shown in the panel, not raised
    assert "an LR this large is not for this test" in panel.status.value and not panel.compute_button.disabled
    with pytest.raises(ValueError, match="at least one value in wds"):
        RecipePanel(train, [0], lrs=[1e-3], wds=[], batch_sizes=[16], early_epoch=1, cache_key=key, cache=cache)
