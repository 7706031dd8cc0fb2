"""Build the learners the lessons train: dataset + model + optimizer + seed, on the session's device."""
from __future__ import annotations

from typing import Callable, Literal

from lrkit.core.data import dataloaders
from lrkit.core.models import OptName, make_learner, small_cnn, tiny_cnn
from lrkit.core.session import Session

__all__ = ["ModelName", "MODELS", "build_learner", "sweep_builder", "build_pretrained_learner", "pets_resnet34_learner"]

ModelName = Literal["tiny_cnn", "small_cnn"]
MODELS: dict[str, Callable] = {"tiny_cnn": tiny_cnn, "small_cnn": small_cnn}


def build_learner(session: Session, *, dataset: str = "cats_dogs", model: ModelName = "small_cnn", bs: int = 64,
                  opt: OptName = "sgd", seed: int = 0, wd: float | None = None, n_train: int | None = None,
                  n_valid: int | None = None):
    """A fresh learner: data subset and batch order from ``seed``, weights initialised from ``seed``."""
    from fastai.torch_core import set_seed

    if model not in MODELS:
        raise ValueError(f"Unknown model {model!r}; expected one of {sorted(MODELS)}")
    dls = dataloaders(dataset, bs=bs, seed=seed, device=session.device, profile=session.profile, n_train=n_train,
                      n_valid=n_valid)
    set_seed(seed)  # the same initial weights for the same seed, whatever ran before
    net = MODELS[model](dls.c, in_channels=dls.train.dataset.x.shape[1])
    return _capped(make_learner(dls, net, opt=opt, workdir=session.workdir, wd=wd), session)


def _capped(learn, session: Session):
    """``learn`` with the dry run's :class:`StepCap` when the session's profile has a step cap."""
    if session.profile.step_cap is not None:
        from lrkit.core.dry_run import StepCap

        learn.add_cb(StepCap(session.profile.step_cap))
    return learn


def sweep_builder(session: Session) -> Callable:
    """The ``build(spec, bs, seed)`` that :func:`lrkit.runs.sweeps.run_sweep` needs, on this session."""

    def build(spec, bs: int, seed: int):
        return build_learner(session, dataset=spec.dataset, model=spec.model, bs=bs, opt=spec.opt, seed=seed,
                             n_train=spec.n_train)

    return build


def build_pretrained_learner(session: Session, *, dataset: str = "cats_dogs", n_train: int | None = None,
                             n_valid: int | None = None, bs: int = 32, size: int = 48, pretrained: bool = True,
                             seed: int = 0):
    """EfficientNet-Lite0 (ImageNet weights unless ``pretrained=False``) with a new head, split into
    three layer groups (early layers, later layers, head) for discriminative LRs.

    Frozen groups are frozen completely, batch norm included (``train_bn=False`` and fastai's
    ``BnFreeze``): with a few hundred images, batch statistics of the new data would otherwise
    shift the pretrained features under the head while it learns."""
    from fastai.callback.training import BnFreeze
    from fastai.torch_core import set_seed

    from lrkit.core.pretrained import efficientnet_lite0, efficientnet_splitter

    dls = dataloaders(dataset, bs=bs, seed=seed, device=session.device, profile=session.profile, n_train=n_train,
                      n_valid=n_valid)
    set_seed(seed)  # the new head starts from the same weights for the same seed
    net = efficientnet_lite0(dls.c, pretrained=pretrained, size=size, data_mean=dls.stats[0], data_std=dls.stats[1])
    learn = make_learner(dls, net, opt="adam", workdir=session.workdir, splitter=efficientnet_splitter,
                         train_bn=False, cbs=[BnFreeze()])
    if session.profile.mixed_precision and session.device.type == "cuda":
        learn = learn.to_fp16()  # fastai's MixedPrecision callback; lrkit's range test honours it
    return _capped(learn, session)


def pets_resnet34_learner(session: Session, *, size: int = 224, bs: int = 64, pretrained: bool = True, path=None):
    """fastai's first lesson, online: resnet34 on Oxford-IIIT Pets (cats vs dogs) with fastai's
    ``vision_learner`` and its own layer groups. Needs internet once for the data and the weights."""
    from fastai.metrics import accuracy
    from fastai.vision.learner import vision_learner
    from torchvision.models import resnet34

    from lrkit.core.data import pets

    dls = pets(size=size, bs=bs, device=session.device, path=path)
    return vision_learner(dls, resnet34, metrics=accuracy, pretrained=pretrained, path=session.workdir)
