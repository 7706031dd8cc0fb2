"""Build the learners the lessons train: dataset + model + optimizer + seed, on the session's device."""
from __future__ import annotations

from typing import Callable, Literal

from .data import dataloaders
from .models import OptName, make_learner, small_cnn, tiny_cnn
from .session import Session

__all__ = ["ModelName", "MODELS", "build_learner", "sweep_builder"]

ModelName = Literal["tiny_cnn", "small_cnn"]
MODELS: dict[str, Callable] = {"tiny_cnn": tiny_cnn, "small_cnn": small_cnn}


def build_learner(session: Session, *, dataset: str = "cats_dogs", model: ModelName = "small_cnn", bs: int = 64,
                  opt: OptName = "sgd", seed: int = 0, wd: float | None = None, n_train: int | None = None):
    """A fresh learner: data subset and batch order from ``seed``, weights initialised from ``seed``."""
    from fastai.torch_core import set_seed

    if model not in MODELS:
        raise ValueError(f"Unknown model {model!r}; expected one of {sorted(MODELS)}")
    dls = dataloaders(dataset, bs=bs, seed=seed, device=session.device, profile=session.profile, n_train=n_train)
    set_seed(seed)  # the same initial weights for the same seed, whatever ran before
    net = MODELS[model](dls.c, in_channels=dls.train.dataset.x.shape[1])
    return make_learner(dls, net, opt=opt, workdir=session.workdir, wd=wd)


def sweep_builder(session: Session) -> Callable:
    """The ``build(spec, bs, seed)`` that :func:`lrkit.sweeps.run_sweep` needs, on this session."""

    def build(spec, bs: int, seed: int):
        return build_learner(session, dataset=spec.dataset, model=spec.model, bs=bs, opt=spec.opt, seed=seed,
                             n_train=spec.n_train)

    return build
