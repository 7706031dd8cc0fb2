"""Curvature: the divergence threshold on a quadratic, sharpness against an exact Hessian, edge of stability."""
import copy

import numpy as np
import pytest
import torch
from torch import nn

from lrkit.methods.curvature import (full_batch_gd, gd_on_quadratic, regime, SharpnessTracker, stability_threshold,
                             top_hessian_eigenvalue)


@pytest.mark.parametrize("lam", [0.5, 4.0, 60.0])
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_quadratic_diverges_exactly_past_the_threshold(lam, momentum):
    limit = stability_threshold(lam, momentum)
    assert limit == pytest.approx(2 * (1 + momentum) / lam)
    below = gd_on_quadratic((lam, lam / 3), limit * (1 - 1e-3), momentum=momentum, steps=20000)
    above = gd_on_quadratic((lam, lam / 3), limit * (1 + 1e-3), momentum=momentum, steps=20000)
    assert not below.diverged and above.diverged


def test_a_path_that_overflows_counts_as_diverged():
    path = gd_on_quadratic((10.0, 1.0), 0.5, steps=2000)  # |1 - lr * lambda| = 4: past any float in 2000 steps
    assert not np.isfinite(path.points[-1]).all()
    assert path.diverged


def test_quadratic_regimes_smooth_oscillating_diverging():
    lam = 10.0
    smooth = np.asarray(gd_on_quadratic((lam, lam), 0.05).points)[:, 0]
    wobbly = np.asarray(gd_on_quadratic((lam, lam), 0.15).points)[:, 0]
    assert np.all(np.diff(smooth) < 0) and np.all(smooth > 0)  # 1 - lr*lam = 0.5: straight in
    assert np.all(wobbly[1::2] < 0) and np.all(wobbly[::2] > 0)  # 1 - lr*lam = -0.5: flips side every step
    assert regime(0.05, lam).startswith("converges smoothly")
    assert regime(0.15, lam).startswith("converges, oscillating")
    assert regime(0.25, lam).startswith("diverges")
    assert regime(0.25, lam, momentum=0.5).startswith("converges, oscillating")  # limit 0.3 with momentum


@pytest.mark.parametrize("kwargs,match", [
    ({"eigenvalues": (1.0, -1.0), "lr": 0.1}, "two positive eigenvalues"),
    ({"eigenvalues": (1.0, 2.0, 3.0), "lr": 0.1}, "two positive eigenvalues"),
    ({"eigenvalues": (1.0, 2.0), "lr": 0.0}, "positive lr"),
    ({"eigenvalues": (1.0, 2.0), "lr": 0.1, "momentum": 1.0}, r"momentum in \[0, 1\)"),
    ({"eigenvalues": (1.0, 2.0), "lr": 0.1, "steps": 0}, "positive integer number of steps"),
    ({"eigenvalues": (1.0, 2.0), "lr": 0.1, "start": (1.0, 2.0, 3.0)}, "start point of two coordinates"),
])
def test_quadratic_bad_input_says_what_was_expected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gd_on_quadratic(**kwargs)


def test_sharpness_equals_the_exact_hessian_of_linear_regression():
    """0.5 * mean((X w + b - y)^2) has the Hessian A^T A / n with A = [X, 1]: known exactly."""
    gen = torch.Generator().manual_seed(0)
    n, d = 200, 6
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * torch.linspace(0.5, 3.0, d, dtype=torch.float64)
    y = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    model = nn.Linear(d, 1).double()
    before = copy.deepcopy(model.state_dict())
    got = top_hessian_eigenvalue(model, lambda p, t: 0.5 * ((p - t) ** 2).mean(), x, y, tol=1e-10, iters=500)
    a = torch.cat([x, torch.ones(n, 1, dtype=torch.float64)], dim=1)
    exact = float(torch.linalg.eigvalsh(a.T @ a / n).max())
    assert got == pytest.approx(exact, rel=1e-6)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # weights untouched


def test_edge_of_stability_run_records_sharpness_and_loss():
    from lrkit.core.data import load_arrays

    d = load_arrays("digits", n_train=200, n_valid=10)
    x = torch.as_tensor(d.x_train, dtype=torch.float32).div(255).flatten(1)
    y = torch.as_tensor(d.y_train)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
    start = top_hessian_eigenvalue(copy.deepcopy(model), nn.functional.cross_entropy, x, y, iters=300, tol=1e-6)
    run = full_batch_gd(model, nn.functional.cross_entropy, x, y, lr=0.5, steps=30, every=10, progress=False)
    assert run.steps == (0, 10, 20, 30) and len(run.loss) == 30 and run.edge == 4.0
    assert run.sharpness[0] == pytest.approx(start, rel=1e-2)
    assert run.loss[-1] < run.loss[0]
    assert type(run).from_dict(run.to_dict()) == run


def test_sharpness_tracker_runs_inside_the_range_test(workdir):
    from fastai.torch_core import set_seed

    from lrkit.core.data import dataloaders
    from lrkit.methods.range_test import find_lr
    from lrkit.core.models import make_learner, tiny_cnn

    set_seed(0)
    dls = dataloaders("digits", bs=32, n_train=320, n_valid=32, device="cpu")
    learn = make_learner(dls, tiny_cnn(10), opt="plain_sgd", workdir=workdir)
    ds = dls.train.dataset
    before = copy.deepcopy(learn.model.state_dict())
    cb = SharpnessTracker(ds.x[:128], ds.y[:128], nn.functional.cross_entropy, every=10)
    learn.add_cb(cb)
    result = find_lr(learn, num_it=30, end_lr=1.0, progress=False)
    assert len(cb.sharpness) == 3 and cb.lrs == pytest.approx([result.lrs[0], result.lrs[10], result.lrs[20]])
    assert all(s > 0 for s in cb.sharpness)
    assert all(torch.equal(before[k], v) for k, v in learn.model.state_dict().items())


def test_quadratic_panel_redraws_and_reports_the_regime():
    from lrkit.show.quadratic_panel import QuadraticPanel

    panel = QuadraticPanel(lambda_max=10.0, lr=0.05)
    assert "converges smoothly" in panel.status.value
    panel.lr.value = 0.3
    assert "diverges" in panel.status.value
    assert "DIVERGES" in panel.figure.axes[0].get_title()
    panel.momentum.value = 0.9  # limit 2(1.9)/10 = 0.38: the same LR converges again
    assert "converges, oscillating" in panel.status.value


def test_quadratic_panel_moves_its_lines_to_exactly_what_a_fresh_draw_shows():
    import matplotlib.pyplot as plt
    import numpy as np

    from lrkit.show.curvature_plots import plot_quadratic_loss, plot_quadratic_path
    from lrkit.show.quadratic_panel import QuadraticPanel

    panel = QuadraticPanel(lambda_max=10.0, condition=5.0, lr=0.05)
    first = panel.figure
    for change in (("lr", 0.3), ("condition", 20.0), ("momentum", 0.5), ("lambda_max", 3.0)):
        setattr(getattr(panel, change[0]), "value", change[1])
        assert panel.figure is first  # updated in place, not rebuilt
        fig, (ax_path, ax_loss) = plt.subplots(1, 2)
        plot_quadratic_path(panel.path(), ax=ax_path)
        plot_quadratic_loss(panel.path(), ax=ax_loss)
        for shown, fresh in zip(panel.figure.axes, (ax_path, ax_loss)):
            assert shown.get_title() == fresh.get_title() and shown.get_xlabel() == fresh.get_xlabel()
            assert shown.get_xlim() == fresh.get_xlim() and shown.get_ylim() == fresh.get_ylim()
            assert len(shown.lines) == len(fresh.lines)
            for a, b in zip(shown.lines, fresh.lines):
                np.testing.assert_array_equal(a.get_xydata(), b.get_xydata())
                assert a.get_color() == b.get_color()
        plt.close(fig)


class _Saddle(nn.Module):
    """Loss 0.5 * (a w0^2 + b w1^2) of a two-parameter model: its Hessian is diag(a, b) everywhere."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.3, -0.2]))

    def forward(self, x):
        return self.w


@pytest.mark.parametrize("a,b,top", [(1.0, -3.0, 1.0), (2.0, 5.0, 5.0), (-1.0, -4.0, -1.0)])
def test_sharpness_is_the_largest_eigenvalue_also_at_a_saddle(a, b, top):
    """At a saddle the eigenvalue largest in magnitude is negative; the sharpness is the largest one."""
    h = torch.tensor([a, b])
    loss = lambda w, _y: 0.5 * (h * w * w).sum()  # noqa: E731
    got = top_hessian_eigenvalue(_Saddle(), loss, torch.zeros(1), torch.zeros(1), iters=200, tol=1e-10)
    assert got == pytest.approx(top, rel=1e-6)


def test_momentum_below_the_smooth_bound_is_not_called_oscillating():
    lam, beta = 10.0, 0.5
    smooth = (1 - beta ** 0.5) ** 2 / lam
    path = np.asarray(gd_on_quadratic((lam, lam), smooth * 0.9, momentum=beta, steps=200).points)[:, 0]
    assert np.all(path > 0) and np.all(np.diff(path) < 0)  # creeps in, never crosses
    assert regime(smooth * 0.9, lam, beta).startswith("converges smoothly")
    wobbly = np.asarray(gd_on_quadratic((lam, lam), smooth * 1.5, momentum=beta, steps=200).points)[:, 0]
    assert np.any(wobbly < 0)  # overshoots
    assert regime(smooth * 1.5, lam, beta).startswith("converges, oscillating")


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_nesterov_limit_is_where_nesterov_momentum_diverges(momentum):
    lam = 4.0
    limit = stability_threshold(lam, momentum, nesterov=True)
    assert limit == pytest.approx(2 * (1 + momentum) / ((1 + 2 * momentum) * lam))

    def grows(lr):  # PyTorch's SGD(nesterov=True) on 0.5 * lam * x^2
        x = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
        opt = torch.optim.SGD([x], lr=lr, momentum=momentum, nesterov=momentum > 0)
        for _ in range(3000):
            opt.zero_grad()
            (0.5 * lam * x * x).sum().backward()
            opt.step()
        return not abs(float(x.detach())) < 1

    assert not grows(limit * 0.99) and grows(limit * 1.01)


def test_sharpness_tracker_is_a_top_level_callback_that_pickles():
    import pickle

    cb = SharpnessTracker(torch.zeros(4, 1), torch.zeros(4, dtype=torch.long), nn.functional.cross_entropy, every=3)
    back = pickle.loads(pickle.dumps(cb))
    assert type(back) is SharpnessTracker and back.every == 3 and back.lrs == []
