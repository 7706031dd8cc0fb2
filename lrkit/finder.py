"""The LR range test (L. Smith, "Cyclical Learning Rates", arXiv 1506.01186), opened up.

It does what fastai 2.8's ``Learner.lr_find`` does: the LR grows exponentially from
``start_lr`` to ``end_lr`` over ``num_it`` mini-batches, the loss is smoothed with a
bias-corrected moving average (beta 0.98), and the test stops once the smoothed loss
exceeds 4x its minimum. It runs on a fastai ``Learner`` (:func:`find_lr`) or on a plain
PyTorch model + optimizer + loader (:func:`find_lr_torch`), and puts model and optimizer
back exactly as it found them (in memory), also after divergence or an interrupt.

One difference from fastai: the test also stops at the first NaN loss, where fastai
carries on to ``num_it``; the suggestions are the same, as both drop NaNs first.
"""
from __future__ import annotations

import copy
import json
import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Iterable, Iterator, Literal, Sequence

import torch
from torch import nn

from .suggestions import CurveTooShortError, Method, suggest

__all__ = ["FinderSettings", "FinderResult", "StopReason", "exp_schedule", "find_lr", "find_lr_torch",
           "preserved_state", "result_from_curve", "resmooth", "smooth"]

StopReason = Literal["num_it", "diverged", "nan"]
ALL_METHODS: tuple[Method, ...] = ("valley", "slide", "minimum", "steep")


@dataclass(frozen=True)
class FinderSettings:
    start_lr: float = 1e-7
    end_lr: float = 10.0
    num_it: int = 100
    beta: float = 0.98  # smoothing of the loss
    stop_div: bool = True  # stop once the smoothed loss exceeds div_factor x its minimum
    div_factor: float = 4.0

    def __post_init__(self):
        if not (0 < self.start_lr < self.end_lr):
            raise ValueError(f"Expected 0 < start_lr < end_lr, got start_lr={self.start_lr}, end_lr={self.end_lr}")
        if not isinstance(self.num_it, int) or self.num_it < 6:
            raise ValueError(f"Expected an integer num_it of at least 6, got {self.num_it!r}")
        if not (0 <= self.beta < 1):
            raise ValueError(f"Expected smoothing beta in [0, 1), got {self.beta}")
        if self.div_factor <= 1:
            raise ValueError(f"Expected div_factor > 1, got {self.div_factor}")


@dataclass(frozen=True)
class FinderResult:
    """One range test: what was tried, what was seen, what it suggests."""

    lrs: tuple[float, ...]
    losses: tuple[float, ...]  # smoothed, as fastai records them
    raw_losses: tuple[float, ...]
    stop_reason: StopReason
    settings: FinderSettings
    suggestions: dict[str, float | None] = field(default_factory=dict)
    marks: dict[str, tuple[float, float]] = field(default_factory=dict)  # (lr, loss) to mark on the plot
    notes: tuple[str, ...] = ()  # why a suggestion is missing, and the like
    batch_size: int | None = None
    seed: int | None = None
    label: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FinderResult":
        d = dict(d)
        d["settings"] = FinderSettings(**d["settings"])
        for key in ("lrs", "losses", "raw_losses", "notes"):
            d[key] = tuple(d[key])
        d["marks"] = {k: tuple(v) for k, v in d["marks"].items()}
        return cls(**d)

    def to_json(self) -> str:
        # NaN/inf are written as JSON's NaN/Infinity tokens, which json.loads reads back
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "FinderResult":
        return cls.from_dict(json.loads(text))


def exp_schedule(start_lr: float, end_lr: float, num_it: int) -> list[float]:
    """The LR at each iteration: ``start_lr * (end_lr / start_lr) ** (i / num_it)`` (fastai's SchedExp)."""
    return [start_lr * (end_lr / start_lr) ** (i / num_it) for i in range(num_it)]


def result_from_curve(lrs: Sequence[float], losses: Sequence[float], raw_losses: Sequence[float],
                      stop_reason: StopReason, settings: FinderSettings, methods: Iterable[Method] = ALL_METHODS,
                      **meta) -> FinderResult:
    """Package a recorded curve with its suggestions; a suggestion the curve is too short for is None."""
    suggestions, marks, notes = {}, {}, []
    for m in methods:
        try:
            s = suggest(lrs, losses, settings.num_it, m)
            suggestions[m], marks[m] = s.lr, (s.mark_lr, s.mark_loss)
        except CurveTooShortError as err:
            suggestions[m] = None
            notes.append(str(err))
    return FinderResult(tuple(map(float, lrs)), tuple(map(float, losses)), tuple(map(float, raw_losses)),
                        stop_reason, settings, suggestions, marks, tuple(notes), **meta)


class _SmoothLoss:
    """Bias-corrected exponential moving average, float32 on the CPU, as fastai's ``AvgSmoothLoss``."""

    def __init__(self, beta: float):
        self.beta, self.count, self.avg = beta, 0, torch.tensor(0.0)

    def update(self, loss: torch.Tensor) -> torch.Tensor:
        self.count += 1
        self.avg = torch.lerp(loss, self.avg, self.beta)
        return self.avg / (1 - self.beta ** self.count)


def smooth(raw_losses: Sequence[float], beta: float) -> list[float]:
    """The smoothed curve of recorded raw losses, as the range test computes it while running."""
    ema = _SmoothLoss(beta)
    return [float(ema.update(torch.tensor(float(loss)))) for loss in raw_losses]


def resmooth(result: FinderResult, beta: float) -> FinderResult:
    """The same run seen with another smoothing: no retraining, new suggestions.

    The points recorded stay the same (where the run stopped was decided with the original beta).
    """
    settings = replace(result.settings, beta=beta)
    return result_from_curve(result.lrs, smooth(result.raw_losses, beta), result.raw_losses, result.stop_reason,
                             settings, tuple(result.suggestions) or ALL_METHODS, batch_size=result.batch_size,
                             seed=result.seed, label=result.label)


@contextmanager
def preserved_state(model: nn.Module, optimizer) -> Iterator[None]:
    """Snapshot weights, buffers, gradients, train/eval mode and optimizer state in memory,
    and restore them on exit, whatever happened inside."""
    model_state = copy.deepcopy(model.state_dict())
    opt_state = copy.deepcopy(optimizer.state_dict())
    grads = [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]
    modes = [m.training for m in model.modules()]
    try:
        yield
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(opt_state)
        for p, g in zip(model.parameters(), grads):
            p.grad = g
        for m, mode in zip(model.modules(), modes):
            m.training = mode


def _range_test(model: nn.Module, batches: Callable[[], Iterable], step: Callable, set_lr: Callable[[float], None],
                settings: FinderSettings, progress: bool) -> tuple[list, list, list, StopReason]:
    """Run the test in train mode, with a progress bar that is closed however the loop ends."""
    from fastprogress.fastprogress import progress_bar

    s = settings
    schedule = exp_schedule(s.start_lr, s.end_lr, s.num_it)
    bar = progress_bar(range(s.num_it), leave=False) if progress else None
    if bar is not None:
        bar.update(0)
    model.train()
    try:
        return _loop(batches, step, set_lr, s, schedule, bar)
    finally:
        if bar is not None:
            bar.on_iter_end()


def _loop(batches, step, set_lr, s: FinderSettings, schedule, bar) -> tuple[list, list, list, StopReason]:
    """Set the LR, take a step, smooth the loss, decide whether to stop."""
    lrs, losses, raw = [], [], []
    ema, best = _SmoothLoss(s.beta), float("inf")
    while True:
        for batch in batches():  # a new epoch (reshuffled) when the loader runs out
            lr = schedule[len(lrs)]
            set_lr(lr)
            loss = step(batch).detach().mean().cpu()
            smooth = ema.update(loss)
            lrs.append(lr)
            losses.append(float(smooth))
            raw.append(float(loss))
            if bar is not None:
                bar.comment = f"lr {lr:.1e}  loss {float(smooth):.3f}"
                bar.update(len(lrs))
            if not math.isfinite(float(smooth)):
                return lrs, losses, raw, "nan"
            if smooth < best:
                best = smooth
            if s.stop_div and smooth > s.div_factor * best:
                return lrs, losses, raw, "diverged"
            if len(lrs) >= s.num_it:
                return lrs, losses, raw, "num_it"
        if not lrs:
            raise ValueError("Expected a training loader with at least one batch, got an empty one.")


def _settings(settings: FinderSettings | None, **overrides) -> FinderSettings:
    given = {k: v for k, v in overrides.items() if v is not None}
    return FinderSettings(**{**asdict(settings or FinderSettings()), **given})


def find_lr(learn, *, start_lr: float | None = None, end_lr: float | None = None, num_it: int | None = None,
            stop_div: bool | None = None, beta: float | None = None, settings: FinderSettings | None = None,
            methods: Iterable[Method] = ALL_METHODS, progress: bool = True, seed: int | None = None,
            label: str = "") -> FinderResult:
    """LR range test on a fastai ``Learner``, the same curve and suggestions as ``learn.lr_find()``.

    Model, optimizer (``learn.opt``, also when it was ``None``) and gradients are restored after.
    """
    s = _settings(settings, start_lr=start_lr, end_lr=end_lr, num_it=num_it, stop_div=stop_div, beta=beta)
    had_opt = learn.opt is not None
    if not had_opt:
        learn.create_opt()
    opt = learn.opt
    n_inp = getattr(learn.dls, "n_inp", None)

    def step(b):
        i = n_inp if n_inp is not None else (1 if len(b) == 1 else len(b) - 1)  # as Learner._split
        xb, yb = b[:i], b[i:]
        loss = learn.loss_func(learn.model(*xb), *yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss

    try:
        with preserved_state(learn.model, opt):
            if learn.wd is not None:  # as Learner.fit does before training
                opt.set_hypers(wd=learn.wd)
            lrs, losses, raw, reason = _range_test(learn.model, lambda: iter(learn.dls.train), step,
                                                   lambda lr: opt.set_hyper("lr", lr), s, progress)
    finally:
        if not had_opt:
            learn.opt = None
    return result_from_curve(lrs, losses, raw, reason, s, methods, batch_size=learn.dls.train.bs, seed=seed,
                             label=label)


def find_lr_torch(model: nn.Module, optimizer: torch.optim.Optimizer, loss_func: Callable, loader: Iterable, *,
                  device: str | torch.device | None = None, start_lr: float | None = None,
                  end_lr: float | None = None, num_it: int | None = None, stop_div: bool | None = None,
                  beta: float | None = None, settings: FinderSettings | None = None,
                  methods: Iterable[Method] = ALL_METHODS, progress: bool = True, seed: int | None = None,
                  label: str = "") -> FinderResult:
    """LR range test on a plain PyTorch model, optimizer and loader of ``(x, y)`` batches."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"Expected a torch.optim.Optimizer, got {type(optimizer).__name__}; "
                        "for a fastai Learner use lrkit.finder.find_lr(learn).")
    s = _settings(settings, start_lr=start_lr, end_lr=end_lr, num_it=num_it, stop_div=stop_div, beta=beta)
    device = torch.device(device) if device is not None else next(model.parameters()).device

    def set_lr(lr):
        for g in optimizer.param_groups:
            g["lr"] = lr

    def step(b):
        x, y = (t.to(device) for t in b)
        loss = loss_func(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss

    with preserved_state(model, optimizer):
        lrs, losses, raw, reason = _range_test(model, lambda: iter(loader), step, set_lr, s, progress)
    return result_from_curve(lrs, losses, raw, reason, s, methods, batch_size=getattr(loader, "batch_size", None),
                             seed=seed, label=label)


def fastai_lr_find(learn, *, settings: FinderSettings | None = None, **overrides) -> FinderResult:
    """fastai's own ``learn.lr_find()`` with all four suggestions, packaged like :func:`find_lr`'s
    result so the two can be compared side by side. fastai saves and reloads the model under
    ``learn.path/models``: build the learner with a path outside the repository."""
    from fastai.callback.schedule import minimum, slide, steep, valley

    s = _settings(settings, **overrides)
    if s.beta != 0.98 or s.div_factor != 4.0:
        raise ValueError(f"fastai's lr_find has beta 0.98 and div_factor 4 built in; got {s.beta} and {s.div_factor}")
    with learn.no_logging():
        sugg = learn.lr_find(start_lr=s.start_lr, end_lr=s.end_lr, num_it=s.num_it, stop_div=s.stop_div,
                             show_plot=False, suggest_funcs=(valley, slide, minimum, steep))
    rec = learn.recorder
    losses = [float(l) for l in rec.losses]
    reason: StopReason = "num_it" if len(losses) >= s.num_it else "diverged"
    result = result_from_curve(rec.lrs, losses, [float("nan")] * len(losses), reason, s,
                               batch_size=learn.dls.train.bs, label="fastai lr_find")
    return replace(result, suggestions=dict(sugg._asdict()))
