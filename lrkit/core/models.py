"""Small models for the lessons and a helper that wraps one in a fastai ``Learner``."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Literal

from torch import nn

__all__ = ["OptName", "tiny_cnn", "small_cnn", "opt_func", "make_learner"]

OptName = Literal["adam", "sgd", "plain_sgd"]


def tiny_cnn(n_classes: int = 10, in_channels: int = 1, width: int = 16) -> nn.Sequential:
    """One convolution, one pooling layer and a linear head: the lesson's tiny CNN."""
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
        nn.AdaptiveMaxPool2d(7), nn.Flatten(),
        nn.Linear(width * 49, n_classes),
    )


def small_cnn(n_classes: int = 10, in_channels: int = 1, width: int = 16) -> nn.Sequential:
    """Two conv blocks with batch norm, global pooling and a linear head."""
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(2 * width, n_classes),
    )


def opt_func(name: OptName = "adam"):
    """fastai's Adam, SGD with momentum 0.9, or plain SGD (no momentum)."""
    from fastai.optimizer import SGD, Adam

    if name == "adam":
        return Adam
    if name == "sgd":
        return partial(SGD, mom=0.9)
    if name == "plain_sgd":
        return partial(SGD, mom=0.0)
    raise ValueError(f"Unknown optimizer {name!r}; expected 'adam', 'sgd' or 'plain_sgd'.")


def make_learner(dls, model: nn.Module, *, opt: OptName = "adam", workdir: str | Path, wd: float | None = None,
                 cbs=None, splitter=None, train_bn: bool = True):
    """A fastai ``Learner`` with cross-entropy loss and accuracy, writing only under ``workdir``."""
    # fastai adds lr_find, fit_one_cycle, fit_flat_cos and no_bar to Learner in these modules
    import fastai.callback.progress  # noqa: F401
    import fastai.callback.schedule  # noqa: F401
    from fastai.learner import Learner
    from fastai.losses import CrossEntropyLossFlat
    from fastai.metrics import accuracy

    from fastai.torch_core import trainable_params

    return Learner(dls, model.to(dls.device), loss_func=CrossEntropyLossFlat(), opt_func=opt_func(opt),
                   metrics=accuracy, path=workdir, wd=wd, cbs=cbs, splitter=splitter or trainable_params,
                   train_bn=train_bn)
