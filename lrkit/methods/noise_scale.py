"""The gradient noise scale (McCandlish et al. 2018, "An Empirical Model of Large-Batch
Training", arXiv 1812.06162) and what it predicts for the best LR at each batch size.

For a batch of B examples drawn at random, E|G_B|^2 = |G|^2 + tr(Sigma)/B, where G is the true
gradient and Sigma the per-example gradient covariance. Measuring |G_B|^2 at two batch sizes
gives both unknowns, and B_simple = tr(Sigma)/|G|^2: well below it, doubling the batch halves
the noise and the best LR doubles (linear rule); well above it, more examples add little.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["NoiseScale", "noise_scale_from_norms", "estimate_noise_scale", "fit_power_law",
           "noise_scale_lr", "fit_noise_scale_lr", "fit_noise_scale_curve", "bend_found", "FIT_SPAN"]


@dataclass(frozen=True)
class NoiseScale:
    b_small: int
    b_big: int
    n_draws: int
    g_small_sq: float  # mean |G_B|^2 over draws at b_small
    g_big_sq: float
    g_sq: float  # estimate of |G|^2
    trace_sigma: float  # estimate of tr(Sigma)
    b_simple: float  # tr(Sigma) / |G|^2


def noise_scale_from_norms(g_small_sq: float, g_big_sq: float, b_small: int, b_big: int,
                           n_draws: int = 0) -> NoiseScale:
    """Solve E|G_B|^2 = |G|^2 + tr(Sigma)/B for the two unknowns from two batch sizes."""
    if not 0 < b_small < b_big:
        raise ValueError(f"Expected 0 < b_small < b_big, got b_small={b_small}, b_big={b_big}")
    g_sq = (b_big * g_big_sq - b_small * g_small_sq) / (b_big - b_small)
    trace = (g_small_sq - g_big_sq) / (1 / b_small - 1 / b_big)
    return NoiseScale(b_small, b_big, n_draws, g_small_sq, g_big_sq, g_sq, trace, trace / g_sq)


def _grad_sq_norm(model: nn.Module, loss_func: Callable, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """|G|^2 as a 0-d tensor on the model's device (no host sync per draw)."""
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss_func(model(x), y), params)
    return sum(g.detach().pow(2).sum() for g in grads)


def estimate_noise_scale(model: nn.Module, loss_func: Callable, x: torch.Tensor, y: torch.Tensor, *,
                         b_small: int = 8, b_big: int = 256, n_draws: int = 50, seed: int = 0) -> NoiseScale:
    """Average |G_B|^2 over ``n_draws`` random batches (drawn with replacement) at each size, at
    the model's current weights, which are not changed. The model runs in eval mode so that batch
    norm uses its running statistics and each example's gradient does not depend on the others."""
    if n_draws < 2:
        raise ValueError(f"Expected at least 2 draws, got {n_draws}")
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        norms = {}
        for b in (b_small, b_big):
            vals = []
            for _ in range(n_draws):
                idx = torch.randint(len(x), (b,), generator=gen).to(x.device)
                vals.append(_grad_sq_norm(model, loss_func, x[idx], y[idx]))
            norms[b] = float(torch.stack(vals).double().mean())  # one sync per batch size
    finally:
        model.train(was_training)
    return noise_scale_from_norms(norms[b_small], norms[b_big], b_small, b_big, n_draws)


def fit_power_law(batch_sizes: Sequence[float], lrs: Sequence[float], exponent: float | None = None) -> tuple[float, float]:
    """Fit lr = c * B**exponent in log space; with ``exponent=None`` fit it too. Returns (c, exponent)."""
    b, lr = np.log(np.asarray(batch_sizes, float)), np.log(np.asarray(lrs, float))
    if exponent is None:
        exponent, log_c = np.polyfit(b, lr, 1)
    else:
        log_c = float(np.mean(lr - exponent * b))
    return float(np.exp(log_c)), float(exponent)


def noise_scale_lr(batch_sizes, lr_max: float, b_noise: float) -> np.ndarray:
    """McCandlish et al.'s prediction LR_opt(B) = LR_max / (1 + B_noise / B)."""
    return lr_max / (1 + b_noise / np.asarray(batch_sizes, float))


def fit_noise_scale_lr(batch_sizes: Sequence[float], lrs: Sequence[float], b_noise: float) -> float:
    """The LR_max that puts the predicted curve through the measured LRs (least squares in log space)."""
    b, lr = np.asarray(batch_sizes, float), np.asarray(lrs, float)
    return float(np.exp(np.mean(np.log(lr) + np.log(1 + b_noise / b))))


FIT_SPAN = 100  # B_noise is searched from min(B) / FIT_SPAN to max(B) * FIT_SPAN


def bend_found(batch_sizes: Sequence[float], b_noise: float) -> bool:
    """Whether a fitted B_noise lies inside its search range: at a bound the measured LRs showed no
    bend (at the upper one, growth at least linear throughout; at the lower one, flat throughout)."""
    b = np.asarray(batch_sizes, float)
    return bool(b.min() / FIT_SPAN * 1.01 < b_noise < b.max() * FIT_SPAN / 1.01)


def fit_noise_scale_curve(batch_sizes: Sequence[float], lrs: Sequence[float]) -> tuple[float, float]:
    """Fit both LR_max and B_noise of LR_max / (1 + B_noise / B) to measured LRs: least squares in
    log space (SciPy's ``curve_fit``), B_noise bounded to [min(B) / FIT_SPAN, max(B) * FIT_SPAN]. A
    B_noise at a bound means the measured LRs show no bend in that range (:func:`bend_found`).
    Returns (lr_max, b_noise)."""
    from scipy.optimize import curve_fit

    b, lr = np.asarray(batch_sizes, float), np.asarray(lrs, float)
    if len(b) < 2 or len(b) != len(lr) or not (np.all(b > 0) and np.all(lr > 0)):
        raise ValueError(f"Expected at least two positive batch sizes with a positive LR each, got {list(b)} "
                         f"and {list(lr)}")
    lo, hi = np.log(b.min() / FIT_SPAN), np.log(b.max() * FIT_SPAN)

    def log_lr(bs, log_lr_max, log_b_noise):
        return log_lr_max - np.log1p(np.exp(log_b_noise) / bs)

    log_b0 = float(np.log(np.median(b)))
    start = (float(np.mean(np.log(lr) + np.log1p(np.exp(log_b0) / b))), log_b0)
    (log_lr_max, log_b_noise), _ = curve_fit(log_lr, b, np.log(lr), p0=start, bounds=([-np.inf, lo], [np.inf, hi]))
    return float(np.exp(log_lr_max)), float(np.exp(log_b_noise))
