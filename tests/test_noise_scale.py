"""The noise-scale estimator on linear regression, where |G|^2 and tr(Sigma) are known exactly."""
import numpy as np
import pytest
import torch
from torch import nn

from lrkit.methods.noise_scale import (estimate_noise_scale, fit_noise_scale_lr, fit_power_law, noise_scale_from_norms,
                               noise_scale_lr)


def _problem(n=20000, d=10, sigma=0.5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    w_true = torch.randn(d, generator=gen, dtype=torch.float64)
    y = x @ w_true + sigma * torch.randn(n, generator=gen, dtype=torch.float64)
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_((w_true + 0.3 * torch.randn(d, generator=gen, dtype=torch.float64)).unsqueeze(0))
    return model, x, y


def loss(pred, y):
    return 0.5 * ((pred.squeeze(1) - y) ** 2).mean()


def test_estimator_recovers_the_exact_noise_scale():
    model, x, y = _problem()
    # per-example gradients of 0.5 (w.x - y)^2 are (w.x - y) x: the exact G and Sigma of this data
    w = model.weight.detach().squeeze(0)
    per_example = (x @ w - y).unsqueeze(1) * x
    g = per_example.mean(0)
    trace = ((per_example - g) ** 2).sum(1).mean()
    exact = float(trace / g.pow(2).sum())
    est = estimate_noise_scale(model, loss, x, y, b_small=4, b_big=512, n_draws=2000, seed=1)
    assert est.g_sq == pytest.approx(float(g.pow(2).sum()), rel=0.1)
    assert est.trace_sigma == pytest.approx(float(trace), rel=0.05)
    assert est.b_simple == pytest.approx(exact, rel=0.15)
    # and the data follow the textbook formula for Gaussian inputs: tr = |d|^2 (D + 1) + sigma^2 D
    assert exact > 10  # a noisy problem: the interesting regime


def test_two_batch_identity_is_solved_exactly():
    g_sq, trace = 2.0, 50.0
    ns = noise_scale_from_norms(g_sq + trace / 8, g_sq + trace / 128, 8, 128)
    assert (ns.g_sq, ns.trace_sigma, ns.b_simple) == pytest.approx((2.0, 50.0, 25.0))
    with pytest.raises(ValueError, match="b_small < b_big"):
        noise_scale_from_norms(1, 1, 64, 64)


def test_estimator_leaves_the_model_as_it_was():
    model, x, y = _problem(n=500)
    before = model.weight.detach().clone()
    model.train()
    estimate_noise_scale(model, loss, x, y, b_small=4, b_big=64, n_draws=5)
    assert torch.equal(model.weight, before) and model.training and model.weight.grad is None


def test_power_law_and_noise_scale_fits():
    b = np.array([4, 8, 16, 32, 64])
    assert fit_power_law(b, 1e-3 * b) == pytest.approx((1e-3, 1.0))
    c, p = fit_power_law(b, 2e-3 * np.sqrt(b), exponent=0.5)
    assert (c, p) == pytest.approx((2e-3, 0.5))
    lrs = noise_scale_lr(b, 0.5, b_noise=16)
    assert lrs[-1] / lrs[0] == pytest.approx((1 + 16 / 4) / (1 + 16 / 64))  # linear below, flat above
    assert fit_noise_scale_lr(b, lrs, b_noise=16) == pytest.approx(0.5)


def test_noise_scale_curve_fit_recovers_both_parameters():
    from lrkit.methods.noise_scale import fit_noise_scale_curve

    b = np.array([4, 8, 16, 32, 64, 128])
    lr_max, b_noise = fit_noise_scale_curve(b, noise_scale_lr(b, 0.8, 24.0))
    assert lr_max == pytest.approx(0.8, rel=0.01) and b_noise == pytest.approx(24.0, rel=0.01)


def test_a_fit_at_the_bound_of_its_range_is_no_bend():
    from lrkit.methods.noise_scale import bend_found, fit_noise_scale_curve

    b = np.array([4, 8, 16, 32, 64])
    assert bend_found(b, fit_noise_scale_curve(b, noise_scale_lr(b, 0.8, 24.0))[1])
    steeper_than_linear = 1e-4 * b ** 1.4  # what a sweep may measure: no bend, growth beyond linear
    _, b_fit = fit_noise_scale_curve(b, steeper_than_linear)
    assert b_fit == pytest.approx(64 * 100, rel=1e-3) and not bend_found(b, b_fit)
