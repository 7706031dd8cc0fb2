"""Measured statements: effect, agreement over seeds, bootstrap interval and verdict."""
import numpy as np
import pytest

from lrkit.runs.claims import check_claims, paired_claim, trend_claim


def test_a_clear_win_on_every_seed_is_shown():
    c = paired_claim("A beats B", [0.86, 0.85, 0.87, 0.86, 0.88], [0.84, 0.84, 0.85, 0.83, 0.85],
                     unit="points", scale=100)
    assert c.verdict == "shown" and c.agree == 5
    assert c.interval[0] > 0 and c.mean == pytest.approx(0.022)
    assert c.render() == ("A beats B: +2.2 points, 5 of 5 paired seeds on the claimed side, 95% interval "
                          f"{c.interval[0] * 100:+.2g} to {c.interval[1] * 100:+.2g}: shown here")


def test_a_noise_level_difference_is_not_shown():
    c = paired_claim("A beats B", [0.851, 0.849, 0.852, 0.848, 0.850], [0.850, 0.850, 0.850, 0.850, 0.850])
    assert c.verdict == "not shown" and c.interval[0] < 0 < c.interval[1]


def test_the_opposite_is_called_so_and_lower_is_better_flips_the_sign():
    loss_a, loss_b = [0.40, 0.41, 0.42, 0.40], [0.45, 0.46, 0.44, 0.47]
    assert paired_claim("A has the higher loss", loss_a, loss_b).verdict == "opposite"
    assert paired_claim("A has the lower loss", loss_a, loss_b, higher_is_better=False).verdict == "shown"


def test_a_margin_must_be_exceeded():
    a, b = [1.0, 1.0, 1.0], [0.99, 0.99, 0.99]
    close = paired_claim("A is within 5 points of B", b, a, margin=-0.05, unit="points", scale=100)
    assert close.verdict == "shown" and "3 of 3 paired seeds past -5 points" in close.render()
    assert paired_claim("A beats B by over 5 points", a, b, margin=0.05).verdict == "opposite"
    assert paired_claim("A beats B", a, b).verdict == "shown"


def test_the_verdict_is_the_same_every_time():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.1, 0.1, 5), rng.normal(0.0, 0.1, 5)
    assert paired_claim("x", a, b) == paired_claim("x", a, b)


def test_a_trend_is_a_rank_correlation_per_seed():
    x = [4, 8, 16, 32, 64]
    rising = [[1, 2, 3, 4, 5], [1, 3, 2, 4, 5], [2, 1, 3, 5, 4]]
    c = trend_claim("the LR rises with the batch size", x, rising)
    assert c.verdict == "shown" and c.effects[0] == pytest.approx(1.0)
    assert trend_claim("the LR falls with the batch size", x, rising, rising=False).verdict == "opposite"
    flat = [[1, 1, 1, 1, 1], [2, 1, 2, 1, 2], [1, 2, 1, 2, 1]]
    assert trend_claim("the LR rises with the batch size", x, flat).verdict == "not shown"


def test_check_claims_asserts_each_at_its_stated_strength():
    shown = paired_claim("A beats B", [2, 3, 4], [1, 1, 1])
    unclear = paired_claim("C beats D", [1.1, 0.9, 1.0], [1.0, 1.0, 1.0])
    lines = check_claims({"a": (shown, "shown"), "c": (unclear, "not opposite")})
    assert lines == [shown.render(), unclear.render()]
    with pytest.raises(AssertionError, match="c: expected shown, got C beats D"):
        check_claims({"a": (shown, "shown"), "c": (unclear, "shown")})
    with pytest.raises(ValueError, match="strength among"):
        check_claims({"a": (shown, "certain")})


@pytest.mark.parametrize("a, b, match", [
    ([1.0], [0.5], "at least two seeds"),
    ([1.0, 2.0], [0.5], "one value per seed"),
    ([1.0, float("nan")], [0.5, 0.5], "finite effect"),
])
def test_bad_input_says_what_was_expected(a, b, match):
    with pytest.raises(ValueError, match=match):
        paired_claim("x", a, b)


def _run(label, acc, loss):
    from lrkit.runs.training import FitResult

    return FitResult(label, 1e-3, "fit", (1.0,), (loss,), (acc,), (1.0,), False)


def test_a_condition_claim_pairs_the_runs_seed_by_seed():
    from lrkit.runs.compare import condition_claim

    grid = {"1cycle": [_run("1cycle", a, l) for a, l in [(0.86, 0.40), (0.85, 0.41), (0.87, 0.39)]],
            "constant": [_run("constant", a, l) for a, l in [(0.84, 0.43), (0.84, 0.42), (0.85, 0.44)]]}
    acc = condition_claim(grid, "1cycle", "constant")
    assert acc.effects == pytest.approx((0.02, 0.01, 0.02)) and acc.unit == "points"
    assert acc.render().startswith("1cycle beats constant (final accuracy): +1.7 points, 3 of 3 paired seeds on the")
    loss = condition_claim(grid, "1cycle", "constant", metric="valid_loss")
    assert loss.effects == pytest.approx((0.03, 0.01, 0.05)) and loss.verdict == "shown"
    with pytest.raises(ValueError, match="same seeds"):
        condition_claim({**grid, "constant": grid["constant"][:2]}, "1cycle", "constant")
