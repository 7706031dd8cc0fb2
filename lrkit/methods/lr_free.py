"""Optimizers that set their own step size (Prodigy, D-Adaptation) or need no schedule
(schedule-free AdamW), wrapped for fastai, and the callbacks they need.

- Prodigy (Mishchenko & Defazio 2023, arXiv 2306.06101, PyPI ``prodigyopt``) and D-Adaptation
  (Defazio & Mishchenko 2023, arXiv 2301.07733, PyPI ``dadaptation``) estimate the distance to
  the solution, ``d``, as they go; the step is ``d * lr`` with ``lr = 1``.
- Schedule-free AdamW (Defazio et al. 2024, arXiv 2405.15682, PyPI ``schedulefree``) averages its
  iterates instead of annealing the LR; it trains at one point and must be evaluated at another,
  so the optimizer is switched between ``train()`` and ``eval()`` modes.
"""
from __future__ import annotations

import contextlib
import io
from functools import partial
from typing import Literal

import torch
from fastai.callback.core import Callback
from torch import nn

__all__ = ["OptimizerName", "OPTIMIZERS", "LR_FREE", "EPS", "BETAS", "optimizer_func", "ScheduleFreeModes", "effective_lr",
           "schedule_free_eval_gap"]

OptimizerName = Literal["adam", "prodigy", "dadapt_adam", "schedulefree_adamw"]
OPTIMIZERS: tuple[str, ...] = ("adam", "prodigy", "dadapt_adam", "schedulefree_adamw")
LR_FREE: tuple[str, ...] = ("prodigy", "dadapt_adam")  # trained with lr = 1: the optimizer finds the step


def _quiet(factory):
    """Prodigy and D-Adaptation print a line each time they are built; keep the notebook's output clean."""

    def build(params, **kwargs):
        with contextlib.redirect_stdout(io.StringIO()):
            return factory(params, **kwargs)

    return build


# What every optimizer of a comparison shares, so that they differ only in how they set the step:
# PyTorch's AdamW defaults, decoupled weight decay on every parameter (fastai's Adam would otherwise
# use eps 1e-5, beta2 0.99 and skip batch-norm and bias parameters; train the learner with
# wd_bn_bias=True, as train_condition does).
EPS, BETAS = 1e-8, (0.9, 0.999)


def optimizer_func(name: OptimizerName, *, wd: float = 0.01, warmup_steps: int = 0, schedule_warmup: bool = False):
    """An ``opt_func`` for a fastai ``Learner``: fastai's Adam, or a PyTorch optimizer in fastai's
    ``OptimWrapper``, all with the same eps, betas and decoupled weight decay ``wd``, so they compare
    like for like. ``warmup_steps`` is schedule-free AdamW's own linear warm-up; ``schedule_warmup``
    says the LR schedule warms up (1cycle, WSD), under which Prodigy needs its ``safeguard_warmup``
    (its README: otherwise the early small steps shrink its estimate of ``d``)."""
    from fastai.optimizer import Adam, OptimWrapper

    if name == "adam":
        return partial(Adam, wd=wd, eps=EPS, mom=BETAS[0], sqr_mom=BETAS[1], decouple_wd=True)
    if name == "prodigy":
        from prodigyopt import Prodigy

        torch_opt = _quiet(partial(Prodigy, weight_decay=wd, decouple=True, eps=EPS, betas=BETAS,
                                   safeguard_warmup=schedule_warmup))
    elif name == "dadapt_adam":
        from dadaptation import DAdaptAdam

        torch_opt = _quiet(partial(DAdaptAdam, weight_decay=wd, decouple=True, eps=EPS, betas=BETAS))
    elif name == "schedulefree_adamw":
        from schedulefree import AdamWScheduleFree

        torch_opt = partial(AdamWScheduleFree, weight_decay=wd, warmup_steps=warmup_steps, eps=EPS, betas=BETAS)
    else:
        raise ValueError(f"Unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")
    return partial(OptimWrapper, opt=torch_opt)


def effective_lr(hypers: dict, d: float | None = None) -> float:
    """The step size an optimizer took, from its hyper-parameters (one fastai param group) read after
    the step: ``d * lr`` for Prodigy and D-Adaptation, the warmed-up LR for schedule-free, else ``lr``.

    Prodigy and D-Adaptation take the step with the ``d`` held before it and store the new ``d`` inside
    ``step()``: pass the ``d`` read before the step, or the step is credited with the next one's ``d``.
    Schedule-free AdamW computes ``scheduled_lr`` inside the step that uses it: read it after."""
    if "scheduled_lr" in hypers:
        return float(hypers["scheduled_lr"])
    return float(hypers["lr"]) * float(hypers.get("d", 1.0) if d is None else d)


def _torch_opt(learn):
    opt = getattr(learn.opt, "opt", None)  # fastai's OptimWrapper holds the PyTorch optimizer here
    if opt is None or not hasattr(opt, "eval"):
        raise ValueError("Expected a learner whose optimizer is schedule-free (optimizer_func('schedulefree_adamw')), "
                         f"got {type(learn.opt).__name__}")
    return opt


class ScheduleFreeModes(Callback):
    """What schedule-free training needs and other optimizers do not: the optimizer in ``train()``
    mode while training and in ``eval()`` mode (weights at the averaged point) for validation and
    afterwards. Batch-norm statistics gathered during training belong to the training point, so
    with batch norm they are recomputed at the averaged point from ``bn_batches`` training batches,
    as the schedulefree README advises."""

    order = 0  # before fastai's own callbacks see the weights

    def __init__(self, bn_batches: int = 20):
        self.bn_batches = bn_batches

    def before_train(self):
        _torch_opt(self.learn).train()

    def before_validate(self):
        _torch_opt(self.learn).eval()
        bns = [m for m in self.learn.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if bns and self.bn_batches:
            self._recompute_bn(bns)

    def after_fit(self):
        _torch_opt(self.learn).eval()  # the learner is left holding the weights to evaluate and export

    def _recompute_bn(self, bns) -> None:
        model, was_training = self.learn.model, self.learn.model.training
        for m in bns:
            m.reset_running_stats()
            m.momentum, m._lrkit_momentum = None, m.momentum  # None: a plain average over the batches
        model.train()
        with torch.no_grad():
            for i, (xb, *_) in enumerate(self.learn.dls.train):
                if i >= self.bn_batches:
                    break
                model(xb)
        for m in bns:
            m.momentum = m._lrkit_momentum
            del m._lrkit_momentum
        model.train(was_training)


def schedule_free_eval_gap(learn) -> dict[str, dict[str, float]]:
    """Validation loss and accuracy of a schedule-free learner evaluated where it trains (optimizer
    in ``train()`` mode, the mistake) and at its averaged weights (``eval()`` mode, the right way).
    The optimizer is left in ``eval()`` mode."""
    opt = _torch_opt(learn)
    out = {}
    with learn.no_bar():
        for mode in ("train", "eval"):
            getattr(opt, mode)()
            loss, acc = learn.validate()[:2]
            out[f"optimizer.{mode}()"] = {"valid loss": float(loss), "accuracy": float(acc)}
    return out
