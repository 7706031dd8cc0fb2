"""Suggestion functions on hand-made loss curves with known answers, and against fastai's own."""
import numpy as np
import pytest
import torch
from fastai.callback import schedule as fastai_schedule

from lrkit.methods.suggestions import CurveTooShortError, minimum, slide, steep, suggest, usable_curve, valley

LRS = np.logspace(-5, 0, 6)  # 1e-5 ... 1


def test_minimum_is_a_tenth_of_the_lowest_point():
    s = minimum(LRS, [3.0, 2.0, 1.0, 2.0, 5.0, 9.0], 6)
    assert s.lr == pytest.approx(1e-4) and s.mark_lr == pytest.approx(1e-3) and s.mark_loss == 1.0


def test_steep_is_where_the_loss_falls_fastest():
    # drops of 0.1, 2.0, 0.1, 0.1, 0.1: the steepest step starts at index 1
    s = steep(LRS, [5.0, 4.9, 2.9, 2.8, 2.7, 2.6], 6)
    assert s.lr == pytest.approx(1e-4)


def test_valley_on_the_classic_curve():
    # longest decreasing run 10, 8, 4, 1 ends at index 3; fastai's index arithmetic lands on 0
    s = valley(LRS, [10.0, 8.0, 4.0, 1.0, 4.0, 16.0], 6)
    assert s.lr == pytest.approx(1e-5)


def test_valley_picks_two_thirds_down_a_long_descent():
    lrs = np.logspace(-6, 0, 13)
    losses = [3.0, 2.9, 2.7, 2.4, 2.0, 1.6, 1.2, 0.9, 0.7, 0.6, 0.8, 1.5, 4.0]
    # decreasing run is indices 0..9 (length 10): max_start = 9 - 10 = -1, sections = 10/3
    # idx = -1 + 3 + 1 = 3
    assert valley(lrs, losses, 13).lr == pytest.approx(lrs[3])


def test_slide_stops_where_the_gradient_flattens():
    lrs = np.logspace(-6, 0, 40)
    losses = np.r_[np.full(25, 1.0), 1.0 + 0.05 * np.arange(1, 16) ** 2]
    s = slide(lrs, losses, 40)
    # a 15-point window slides left from the end while the gradients at its two ends differ;
    # the rise starts at index 24, so the last window with a rising right end is 9..24
    assert s.lr == pytest.approx(lrs[9], rel=1e-6)


@pytest.mark.parametrize("name", ["valley", "slide", "minimum", "steep"])
def test_same_answers_as_fastai_on_noisy_curves(name):
    rng = np.random.default_rng(0)
    for trial in range(20):
        n = int(rng.integers(20, 120))
        lrs = np.logspace(-7, 1, n)
        x = np.linspace(0, 1, n)
        losses = 2.3 - 1.5 * np.exp(-((x - 0.6) / 0.2) ** 2) + 3 * np.maximum(x - 0.8, 0) + rng.normal(0, 0.05, n)
        ours = getattr(__import__("lrkit.methods.suggestions", fromlist=[name]), name)(lrs, losses, n)
        theirs, _ = getattr(fastai_schedule, name)(torch.tensor(lrs), torch.tensor(losses, dtype=torch.float32), n)
        assert ours.lr == pytest.approx(theirs, rel=1e-6), (trial, n)


def test_usable_curve_drops_the_ends_and_everything_from_the_first_nan():
    lrs = np.logspace(-7, 1, 100)
    losses = np.linspace(3, 1, 100)
    losses[60] = np.nan
    ulrs, ulosses = usable_curve(lrs, losses, 100)
    assert len(ulosses) == 50 and ulrs[0] == pytest.approx(lrs[10], rel=1e-6)


def test_too_short_curve_gets_a_clear_message_not_an_index_error():
    with pytest.raises(CurveTooShortError, match=r"'valley' needs at least 1 usable points.*recorded 8 of num_it=100"):
        suggest(np.logspace(-7, -6, 8), np.linspace(2, 1, 8), 100, "valley")
    with pytest.raises(CurveTooShortError, match="'slide' needs at least 16"):
        suggest(np.logspace(-7, 1, 20), np.linspace(2, 1, 20), 20, "slide")


def test_unknown_method():
    with pytest.raises(ValueError, match="Unknown suggestion method 'best'"):
        suggest(LRS, LRS, 6, "best")
