"""Snapshot and restore of a model's and optimizer's state, in host memory.

The range test, the curvature probes and branched runs all try something on a learner and must
leave it exactly as they found it, also after divergence or an interrupt: no second copy on the
GPU, no files.
"""
from __future__ import annotations

import copy
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

__all__ = ["preserved_state"]


def _to_host(tree):
    """A copy of a (nested) state with every tensor detached and cloned into host memory."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().to("cpu", copy=True)
    if isinstance(tree, dict):
        return {k: _to_host(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to_host(v) for v in tree)
    return copy.deepcopy(tree)


def _to_device(tree, device: torch.device):
    if isinstance(tree, torch.Tensor):
        return tree.to(device)
    if isinstance(tree, dict):
        return {k: _to_device(v, device) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to_device(v, device) for v in tree)
    return tree


def _load_optimizer_state(optimizer, state: dict) -> None:
    optimizer.load_state_dict(state)
    if isinstance(optimizer, torch.optim.Optimizer) or isinstance(getattr(optimizer, "opt", None), torch.optim.Optimizer):
        return  # a PyTorch optimizer, bare or in fastai's OptimWrapper: torch moved the state itself
    # fastai's Optimizer keeps the loaded tensors where they are: put each parameter's state back on
    # that parameter's device, in the defaultdict fastai creates (a parameter without state gets {})
    optimizer.state = defaultdict(dict, {p: _to_device(s, p.device) for p, s in optimizer.state.items()})


@contextmanager
def preserved_state(model: nn.Module, optimizer) -> Iterator[None]:
    """Snapshot weights, buffers, gradients, train/eval mode and optimizer state in host memory
    (no second copy on the GPU, no files), and restore them on exit, whatever happened inside."""
    model_state = _to_host(model.state_dict())
    opt_state = _to_host(optimizer.state_dict())
    grads = [None if p.grad is None else _to_host(p.grad) for p in model.parameters()]
    modes = [m.training for m in model.modules()]
    try:
        yield
    finally:
        model.load_state_dict(model_state)
        _load_optimizer_state(optimizer, opt_state)
        for p, g in zip(model.parameters(), grads):
            p.grad = None if g is None else g.to(device=p.device, dtype=p.dtype)
        for m, mode in zip(model.modules(), modes):
            m.training = mode
