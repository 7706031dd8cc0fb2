"""Discriminative learning rates: one LR per layer group, small for early (general) layers of a
pretrained network and large for its new head (Howard & Ruder 2018, ULMFiT, arXiv 1801.06146).

fastai spreads an LR spec over the groups in ``Optimizer.set_hyper``; :func:`group_lrs` does
the same, and the tests check it against fastai's own param groups.
"""
from __future__ import annotations

from dataclasses import dataclass

from fastai.callback.core import Callback

__all__ = ["check_lr_spec", "group_lrs", "GroupState", "group_states", "GroupLRRecorder", "GroupDrift"]


def check_lr_spec(lr, name: str = "lr") -> float:
    """Refuse an LR spec fastai would misuse: a positive float, ``slice(hi)`` or ``slice(lo, hi)``
    with ``0 < lo <= hi``. Returns the highest LR."""
    if isinstance(lr, slice):
        if lr.stop is None or not lr.stop > 0 or (lr.start is not None and not 0 < lr.start <= lr.stop):
            raise ValueError(f"Expected {name} as slice(hi) or slice(lo, hi) with 0 < lo <= hi, got {lr}; "
                             "the first layer group takes lo, the head hi")
        return float(lr.stop)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"Expected {name} as a positive number or a slice(lo, hi), got {lr!r}")
    return float(lr)


def group_lrs(lr: float | slice, n_groups: int) -> list[float]:
    """One LR per group, as fastai does it: a float goes to every group; ``slice(hi)`` gives
    ``hi/10`` to all groups but the last, which gets ``hi``; ``slice(lo, hi)`` spaces the LRs
    geometrically from ``lo`` (first group) to ``hi`` (last)."""
    if n_groups < 1:
        raise ValueError(f"Expected at least one layer group, got {n_groups}")
    check_lr_spec(lr)
    if not isinstance(lr, slice):
        return [float(lr)] * n_groups
    if lr.start:
        if n_groups == 1:
            return [float(lr.stop)]
        step = (lr.stop / lr.start) ** (1 / (n_groups - 1))
        return [float(lr.start * step ** i) for i in range(n_groups)]
    return [lr.stop / 10] * (n_groups - 1) + [float(lr.stop)]


@dataclass(frozen=True)
class GroupState:
    index: int
    n_params: int
    trainable: bool  # any non-batch-norm weight of the group requires grad
    lr: float


def group_states(learn) -> list[GroupState]:
    """Per layer group: size, whether it trains, and its current LR (creates the optimizer if needed)."""
    from torch import nn

    if learn.opt is None:
        learn.create_opt()
    bn_params = {id(p) for m in learn.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                 for p in m.parameters()}
    states = []
    for i, (params, hypers) in enumerate(zip(learn.opt.param_lists, learn.opt.hypers)):
        weights = [p for p in params if id(p) not in bn_params]
        states.append(GroupState(i, sum(p.numel() for p in params), any(p.requires_grad for p in weights),
                                 float(hypers["lr"])))
    return states


class GroupLRRecorder(Callback):
    """Records every group's LR at every training batch (fastai's Recorder keeps only the last group's)."""

    order = 99

    def before_fit(self):
        self.lrs: list[list[float]] = []

    def after_batch(self):
        if self.training:
            self.lrs.append([float(h["lr"]) for h in self.opt.hypers])

    def per_group(self) -> list[list[float]]:
        return [list(col) for col in zip(*self.lrs)]



class GroupDrift(Callback):
    """How far each layer group's weights moved during a fit: ``|w_end - w_start| / |w_start|`` over
    the group's parameters. A pretrained group that moves a large fraction of its norm has lost the
    features it came with; a frozen one stays at 0."""

    order = 99

    def before_fit(self):
        import torch

        with torch.no_grad():
            self.start = [[p.detach().clone() for p in group] for group in self.opt.param_lists]
        self.drift: list[float] = []

    def after_fit(self):
        import torch

        with torch.no_grad():
            self.drift = [_relative_distance(group, start) for group, start in zip(self.opt.param_lists, self.start)]
        self.start = []  # a copy of the whole model: not kept past the fit


def _relative_distance(params, start) -> float:
    import torch

    moved = sum(float(torch.sum((p.detach().float() - s.float()) ** 2)) for p, s in zip(params, start))
    size = sum(float(torch.sum(s.float() ** 2)) for s in start)
    return (moved / size) ** 0.5 if size > 0 else 0.0
