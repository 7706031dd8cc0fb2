"""Curvature and the largest stable learning rate.

On a quadratic ``0.5 x^T H x``, a gradient-descent step multiplies the component along each
eigenvector of ``H`` by ``1 - lr * lambda``: it shrinks monotonically for ``lr < 1/lambda``, shrinks
while flipping sign up to ``2/lambda``, and grows beyond. Heavy-ball momentum ``beta`` (PyTorch's
and fastai's SGD) moves the limit to ``2 (1 + beta) / lambda``. A network's *sharpness* is the top
eigenvalue of its loss Hessian, found here by power iteration on Hessian-vector products
(Pearlmutter 1994). Full-batch gradient descent drives the sharpness up until it reaches about
``2/lr`` and then hovers there while the loss keeps falling, not monotonically: the edge of
stability (Cohen et al. 2021, arXiv 2103.00065).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from fastai.callback.core import Callback
from torch import nn

__all__ = ["QuadraticPath", "stability_threshold", "regime", "gd_on_quadratic", "top_hessian_eigenvalue",
           "EdgeOfStabilityRun", "full_batch_gd", "SharpnessTracker"]


def stability_threshold(lambda_max: float, momentum: float = 0.0, *, nesterov: bool = False) -> float:
    """The largest LR at which gradient descent on a quadratic with top curvature ``lambda_max`` does
    not diverge.

    The momentum convention is PyTorch's and fastai's SGD without dampening: ``v = momentum * v + g``,
    then ``x -= lr * v`` (heavy ball, ``nesterov=False``): the limit is ``2 (1 + momentum) / lambda_max``.
    With Nesterov's ``x -= lr * (g + momentum * v)`` it is ``2 (1 + momentum) / ((1 + 2 momentum) lambda_max)``."""
    if not lambda_max > 0:
        raise ValueError(f"Expected a positive lambda_max, got {lambda_max}")
    if not 0 <= momentum < 1:
        raise ValueError(f"Expected momentum in [0, 1), got {momentum}")
    return 2 * (1 + momentum) / ((1 + 2 * momentum) if nesterov else 1) / lambda_max


def regime(lr: float, lambda_max: float, momentum: float = 0.0) -> str:
    """What heavy-ball gradient descent does along the sharpest direction at this LR, in words.

    Below ``(1 - sqrt(momentum))**2 / lambda_max`` (``1/lambda`` without momentum) the iteration's
    roots are real and positive: it creeps in without overshooting. Above, up to the limit, it
    oscillates (complex roots, or negative ones close to the limit)."""
    limit = stability_threshold(lambda_max, momentum)
    smooth = (1 - math.sqrt(momentum)) ** 2 / lambda_max
    if lr >= limit:
        return f"diverges: lr {lr:.3g} is at or above the limit {limit:.3g}"
    if lr <= smooth:
        bound = "1/lambda" if momentum == 0 else "(1 - sqrt(momentum))^2/lambda"
        return f"converges smoothly: lr {lr:.3g} is below {bound} = {smooth:.3g}"
    return f"converges, oscillating: lr {lr:.3g} is below the limit {limit:.3g}"


@dataclass(frozen=True)
class QuadraticPath:
    """Gradient descent on ``0.5 * sum(eigenvalues * x**2)`` from ``start``."""

    eigenvalues: tuple[float, float]
    lr: float
    momentum: float
    points: tuple[tuple[float, float], ...]  # x after each step, the start first
    losses: tuple[float, ...]

    @property
    def threshold(self) -> float:
        return stability_threshold(max(self.eigenvalues), self.momentum)

    @property
    def diverged(self) -> bool:
        """The distance to the minimum grew over the run (or overflowed to inf or nan)."""
        return not math.hypot(*self.points[-1]) <= math.hypot(*self.points[0])


def gd_on_quadratic(eigenvalues: Sequence[float], lr: float, *, momentum: float = 0.0,
                    start: Sequence[float] = (1.0, 1.0), steps: int = 40) -> QuadraticPath:
    """The path of (heavy-ball) gradient descent on a 2-D quadratic: ``v = beta v + g; x -= lr v``."""
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.shape != (2,) or not np.all(lam > 0):
        raise ValueError(f"Expected two positive eigenvalues, got {list(eigenvalues)}")
    if not lr > 0:
        raise ValueError(f"Expected a positive lr, got {lr}")
    if not 0 <= momentum < 1:
        raise ValueError(f"Expected momentum in [0, 1), got {momentum}")
    if np.shape(start) != (2,):
        raise ValueError(f"Expected a start point of two coordinates, got {list(start)}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"Expected a positive integer number of steps, got {steps!r}")
    # plain floats, not 2-element arrays: numpy's per-call overhead made 20,000 steps take a second;
    # float arithmetic overflows to inf and nan quietly, as the diverging runs need
    (l0, l1), (x0, x1), v0, v1 = map(float, lam), map(float, start), 0.0, 0.0
    lr, momentum = float(lr), float(momentum)
    points, losses = [(x0, x1)], [0.5 * (l0 * x0 * x0 + l1 * x1 * x1)]
    for _ in range(steps):
        v0, v1 = momentum * v0 + l0 * x0, momentum * v1 + l1 * x1
        x0, x1 = x0 - lr * v0, x1 - lr * v1
        points.append((x0, x1))
        losses.append(0.5 * (l0 * x0 * x0 + l1 * x1 * x1))
    return QuadraticPath((l0, l1), lr, momentum, tuple(points), tuple(losses))


def _normalised(vs: list[torch.Tensor]) -> list[torch.Tensor]:
    norm = torch.sqrt(sum((v * v).sum() for v in vs))
    return [v / norm for v in vs]


def _random_direction(model: nn.Module, seed: int) -> list[torch.Tensor]:
    """A random start for power iteration, one tensor per trainable parameter, drawn on the CPU so
    that it is the same on every device."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(p.shape, generator=gen).to(p) for p in model.parameters() if p.requires_grad]


def _power_iteration(model: nn.Module, loss_func: Callable, x: torch.Tensor, y: torch.Tensor,
                     v: list[torch.Tensor], iters: int, tol: float) -> tuple[float, list[torch.Tensor]]:
    """The largest eigenvalue of the Hessian (the most positive, not the largest in magnitude) and its
    eigenvector, by power iteration on Hessian-vector products from ``v``.

    Power iteration finds the eigenvalue of largest magnitude. Away from a minimum that can be a
    negative one (a saddle); then a second run on ``H - mu I``, with ``mu`` that negative eigenvalue,
    whose spectrum is shifted to be non-negative, finds ``lambda_max - mu``."""
    from lrkit.core.dry_run import capped_iterations

    iters = capped_iterations(iters)  # a dry run measures, briefly
    params = [p for p in model.parameters() if p.requires_grad]
    was_training = model.training
    model.eval()
    try:
        grads = torch.autograd.grad(loss_func(model(x), y), params, create_graph=True)

        def hvp(u):
            return [h.detach() for h in torch.autograd.grad(grads, params, grad_outputs=u, retain_graph=True)]

        eig, top_v = _iterate(hvp, v, iters, tol)
        if eig < 0:  # start again from v: top_v is the shifted operator's null direction
            shift = eig
            top, top_v = _iterate(lambda u: [h - shift * w for h, w in zip(hvp(u), u)], v, iters, tol)
            eig = top + shift
        return eig, top_v
    finally:
        model.train(was_training)


def _iterate(matvec: Callable, v: list[torch.Tensor], iters: int, tol: float) -> tuple[float, list[torch.Tensor]]:
    """Power iteration: the Rayleigh quotient at the last vector, stopping once it changes by less than
    ``tol`` (relative)."""
    v, eig = _normalised(v), None
    for _ in range(iters):
        hv = matvec(v)
        new = float(sum((h * u).sum() for h, u in zip(hv, v)))
        v = _normalised(hv)
        if eig is not None and abs(new - eig) <= tol * abs(new):
            return new, v
        eig = new
    return eig, v


def top_hessian_eigenvalue(model: nn.Module, loss_func: Callable, x: torch.Tensor, y: torch.Tensor, *,
                           iters: int = 100, tol: float = 1e-4, seed: int = 0) -> float:
    """The largest eigenvalue of the Hessian of ``loss_func(model(x), y)`` with respect to the
    trainable parameters, the sharpness, by power iteration on Hessian-vector products (double
    backprop); at a saddle, where a negative eigenvalue is the largest in magnitude, by a second
    power iteration on the shifted Hessian.

    The model is evaluated in eval mode (batch norm with its running statistics) and left unchanged.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("Expected a model with trainable parameters, got none")
    if not isinstance(iters, int) or iters < 2:
        raise ValueError(f"Expected at least 2 iterations, got {iters!r}")
    return _power_iteration(model, loss_func, x, y, _random_direction(model, seed), iters, tol)[0]


@dataclass(frozen=True)
class EdgeOfStabilityRun:
    """Full-batch gradient descent at one LR, with the sharpness measured every few steps."""

    lr: float
    steps: tuple[int, ...]  # where the sharpness was measured
    sharpness: tuple[float, ...]
    loss: tuple[float, ...]  # training loss at every step

    @property
    def edge(self) -> float:
        return 2 / self.lr

    @property
    def peak(self) -> float:
        """The highest sharpness measured, relative to ``2/lr``."""
        return max(self.sharpness) / self.edge

    def settled(self, last_frac: float = 0.25) -> float:
        """Median sharpness over the last ``last_frac`` of the run, relative to ``2/lr``."""
        tail = self.sharpness[int(len(self.sharpness) * (1 - last_frac)):]
        return float(np.median(tail)) / self.edge

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EdgeOfStabilityRun":
        return cls(float(d["lr"]), tuple(d["steps"]), tuple(d["sharpness"]), tuple(d["loss"]))


def full_batch_gd(model: nn.Module, loss_func: Callable, x: torch.Tensor, y: torch.Tensor, *, lr: float,
                  steps: int, every: int = 10, progress: bool = True) -> EdgeOfStabilityRun:
    """Plain gradient descent on the whole of ``(x, y)`` for ``steps`` steps, measuring the sharpness
    every ``every`` steps. The model is trained in place: pass a copy to keep the original."""
    from fastprogress.fastprogress import progress_bar

    if not lr > 0:
        raise ValueError(f"Expected a positive lr, got {lr}")
    from lrkit.core.dry_run import capped_steps

    steps = capped_steps(steps, len(x))  # a dry run's cap, when there is one
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    v = _random_direction(model, 0)
    marks, sharp, losses = [], [], []
    for step in progress_bar(range(steps + 1), leave=True) if progress else range(steps + 1):
        if step % every == 0:
            # warm start from the last eigenvector: the weights moved little, so a few iterations do
            eig, v = _power_iteration(model, loss_func, x, y, v, iters=100 if step == 0 else 10, tol=1e-3)
            marks.append(step)
            sharp.append(eig)
        if step == steps:
            break
        model.train()
        opt.zero_grad()
        loss = loss_func(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):
            break
    return EdgeOfStabilityRun(float(lr), tuple(marks), tuple(sharp), tuple(losses))


class SharpnessTracker(Callback):
    """Measures the sharpness on ``(x, y)`` every ``every`` training steps and keeps ``(lr,
    sharpness)`` pairs in ``.lrs`` and ``.sharpness``: add it to a learner and run
    :func:`lrkit.find_lr`, which honours the learner's callbacks, to see the sharpness change while
    the range test trains."""

    order, run_valid = 70, False

    def __init__(self, x: torch.Tensor, y: torch.Tensor, loss_func: Callable, *, every: int = 10):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"Expected a positive integer `every`, got {every!r}")
        # not named x, y, loss_func: a callback's attributes must not shadow the learner's
        self.probe_x, self.probe_y, self.probe_loss, self.every = x, y, loss_func, every
        self.lrs, self.sharpness, self.v = [], [], None

    def before_fit(self):
        self.lrs, self.sharpness, self.v = [], [], None

    def after_batch(self):
        from lrkit.core.dry_run import measured_enough

        if (self.train_iter - 1) % self.every or measured_enough(len(self.sharpness)):
            return
        cold = self.v is None
        if cold:
            self.v = _random_direction(self.model, 0)
        # warm start from the last eigenvector: a few iterations do
        eig, self.v = _power_iteration(self.model, self.probe_loss, self.probe_x, self.probe_y, self.v,
                                       iters=100 if cold else 10, tol=1e-3)
        self.lrs.append(float(self.opt.hypers[-1]["lr"]))
        self.sharpness.append(eig)
