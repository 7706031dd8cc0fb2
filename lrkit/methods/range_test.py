"""The LR range test (L. Smith, "Cyclical Learning Rates", arXiv 1506.01186), opened up.

It does what fastai 2.8's ``Learner.lr_find`` does: the LR grows exponentially from
``start_lr`` to ``end_lr`` over ``num_it`` mini-batches, the loss is smoothed with a
bias-corrected moving average (beta 0.98), and the test stops once the smoothed loss
exceeds 4x its minimum. It runs on a fastai ``Learner`` (:func:`find_lr`) or on a plain
PyTorch model + optimizer + loader (:func:`find_lr_torch`), and puts model and optimizer
back exactly as it found them (from host memory, no files), also after divergence or an interrupt.

On a ``Learner`` the test trains through ``learn.fit``, so the learner's callbacks (mixed precision,
gradient clipping, ``BnFreeze``...) act as in ``lr_find``. One difference from fastai: the test
also stops at the first NaN loss, where fastai carries on to ``num_it``; the suggestions are
still fastai's, computed as if the run had gone on.
"""
from __future__ import annotations

import copy
import json
import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Iterable, Iterator, Literal, Sequence

import torch
from fastai.callback.core import Callback, CancelFitException, CancelValidException
from torch import nn

from lrkit.core.cache import check_fields
from lrkit.methods.learner_state import preserved_state
from lrkit.methods.suggestions import CurveTooShortError, Method, suggest, valley_at_edge

__all__ = ["FinderSettings", "FinderResult", "RangeTest", "fastai_lr_find", "StopReason", "exp_schedule", "find_lr", "find_lr_torch",
           "result_from_curve", "resmooth", "smooth"]

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
        d = dict(check_fields(cls, d))
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
    """Package a recorded curve with its suggestions; a suggestion the curve is too short for is None.

    After a NaN stop the suggestions are those of fastai's run, which records on to ``num_it``.
    """
    if not (len(lrs) == len(losses) == len(raw_losses)):
        raise ValueError(f"Expected lrs, losses and raw_losses of one length, got {len(lrs)}, {len(losses)} "
                         f"and {len(raw_losses)}.")
    run_length = settings.num_it if stop_reason == "nan" else len(losses)
    suggestions, marks, notes = {}, {}, []
    for m in methods:
        try:
            s = suggest(lrs, losses, settings.num_it, m, run_length=run_length, stop_reason=stop_reason)
            suggestions[m], marks[m] = s.lr, (s.mark_lr, s.mark_loss)
        except CurveTooShortError as err:
            suggestions[m] = None
            notes.append(str(err))
    if suggestions.get("valley") is not None:
        edge = valley_at_edge(lrs, losses, settings.num_it, run_length)
        if edge:
            notes.append(edge)
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


class _Curve:
    """Records the range test point by point and says when to stop (fastai's rules, plus NaN)."""

    def __init__(self, settings: FinderSettings, bar=None):
        self.s, self.bar = settings, bar
        self.schedule = exp_schedule(settings.start_lr, settings.end_lr, settings.num_it)
        self.lrs, self.losses, self.raw = [], [], []
        self.ema, self.best = _SmoothLoss(settings.beta), float("inf")

    @property
    def next_lr(self) -> float:
        return self.schedule[len(self.lrs)]

    def record(self, loss: torch.Tensor) -> StopReason | None:
        """Add the loss of the step just taken at ``next_lr``; the reason to stop, if any."""
        lr, loss = self.next_lr, loss.detach().float().mean().cpu()  # one host sync a step: the stop rule needs it
        smooth = float(self.ema.update(loss))
        self.lrs.append(lr)
        self.losses.append(smooth)
        self.raw.append(float(loss))
        if self.bar is not None:
            self.bar.comment = f"lr {lr:.1e}  loss {smooth:.3f}"
            self.bar.update(len(self.lrs))
        if math.isnan(smooth):  # fastai carries on to num_it with NaN weights; nothing more to learn
            return "nan"
        self.best = min(self.best, smooth)
        if self.s.stop_div and smooth > self.s.div_factor * self.best:
            return "diverged"
        if len(self.lrs) >= self.s.num_it:
            return "num_it"
        return None


@contextmanager
def _progress(settings: FinderSettings, show: bool):
    """A progress bar over ``num_it`` steps (or None), closed however the test ends; it stays, finished,
    so a saved notebook shows how far the test went and how long it took."""
    if not show:
        yield None
        return
    from fastprogress.fastprogress import progress_bar

    bar = progress_bar(range(settings.num_it), leave=True)
    bar.update(0)
    try:
        yield bar
    finally:
        bar.on_iter_end()


def _settings(settings: FinderSettings | None, **overrides) -> FinderSettings:
    given = {k: v for k, v in overrides.items() if v is not None}
    return FinderSettings(**{**asdict(settings or FinderSettings()), **given})


class RangeTest(Callback):
    """Drives the range test inside ``Learner.fit``, as fastai's own ``LRFinder`` does, so the
    learner's other callbacks (mixed precision, gradient clipping, BnFreeze, any custom one) act on
    every step; it writes no files and also stops at NaN. ``curve`` sets each step's LR and records
    its loss."""

    order, run_valid = 60, False  # after the Recorder (50), where fastai's LRFinder runs
    is_range_test = True  # a dry run's StepCap leaves its iterations alone: find_lr capped them already

    def __init__(self, curve: "_Curve"):
        self.curve, self.stop_reason = curve, None

    def before_batch(self):
        self.opt.set_hyper("lr", self.curve.next_lr)

    def after_batch(self):
        self.stop_reason = self.curve.record(self.learn.loss)
        if self.stop_reason is not None:
            raise CancelFitException()

    def before_validate(self):
        raise CancelValidException()


@contextmanager
def _recorder_kept(learn) -> Iterator[None]:
    """The Recorder's history (losses, LRs, metrics) as it was before: the test is not training."""
    rec = getattr(learn, "recorder", None)
    names = [a for a in ("lrs", "iters", "losses", "values", "metric_names") if hasattr(rec, a)]
    saved = {a: copy.copy(getattr(rec, a)) for a in names}
    try:
        yield
    finally:
        for a, v in saved.items():
            setattr(rec, a, v)


def find_lr(learn, *, start_lr: float | None = None, end_lr: float | None = None, num_it: int | None = None,
            stop_div: bool | None = None, beta: float | None = None, settings: FinderSettings | None = None,
            methods: Iterable[Method] = ALL_METHODS, progress: bool = True, seed: int | None = None,
            label: str = "") -> FinderResult:
    """LR range test on a fastai ``Learner``, the same curve and suggestions as ``learn.lr_find()``.

    It trains through ``learn.fit``, so every callback of the learner acts as in ``lr_find``.
    Model, optimizer (``learn.opt``, also when it was ``None``), gradients, train/eval modes and the
    Recorder's history are restored after, from host memory, also after divergence or an interrupt.
    """
    import fastai.callback.progress  # noqa: F401  (adds Learner.no_bar)

    s = _dry_run_capped(learn, _settings(settings, start_lr=start_lr, end_lr=end_lr, num_it=num_it,
                                         stop_div=stop_div, beta=beta))
    n_batches = len(learn.dls.train)
    if n_batches == 0:
        raise ValueError(f"Expected a training loader with at least one batch, got none (batch size "
                         f"{learn.dls.train.bs}, {len(learn.dls.train.dataset)} items, drop_last="
                         f"{learn.dls.train.drop_last}); lower the batch size.")
    had_opt = learn.opt is not None
    if not had_opt:
        learn.create_opt()
    try:
        with preserved_state(learn.model, learn.opt), _recorder_kept(learn), _progress(s, progress) as bar, \
                learn.no_logging(), learn.no_bar():
            curve = _Curve(s, bar)
            cb = RangeTest(curve)
            learn.fit(s.num_it // n_batches + 1, cbs=cb)  # as many epochs as lr_find runs
    finally:
        if not had_opt:
            learn.opt = None
    reason = cb.stop_reason or "num_it"
    return result_from_curve(curve.lrs, curve.losses, curve.raw, reason, s, methods, batch_size=learn.dls.train.bs,
                             seed=seed, label=label)


def _batches(loader: Iterable, num_it: int) -> Iterator:
    """Batches from ``loader``, starting it again (a new, reshuffled epoch) when it runs out."""
    count = 0
    while True:
        epoch = 0
        for batch in loader:
            epoch += 1
            count += 1
            yield batch
        if epoch == 0:
            if count == 0:
                raise ValueError("Expected a training loader with at least one batch, got an empty one.")
            raise ValueError(f"The loader ran out after {count} batches, fewer than num_it={num_it}, and "
                             "cannot be started again (an iterator or generator); pass a DataLoader or a "
                             f"list of batches, or lower num_it to {count} or less.")


def find_lr_torch(model: nn.Module, optimizer: torch.optim.Optimizer, loss_func: Callable, loader: Iterable, *,
                  device: str | torch.device | None = None, start_lr: float | None = None,
                  end_lr: float | None = None, num_it: int | None = None, stop_div: bool | None = None,
                  beta: float | None = None, settings: FinderSettings | None = None,
                  methods: Iterable[Method] = ALL_METHODS, progress: bool = True, seed: int | None = None,
                  label: str = "") -> FinderResult:
    """LR range test on a plain PyTorch model, optimizer and loader of ``(x, y)`` batches."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"Expected a torch.optim.Optimizer, got {type(optimizer).__name__}; "
                        "for a fastai Learner use lrkit.find_lr(learn).")
    s = _settings(settings, start_lr=start_lr, end_lr=end_lr, num_it=num_it, stop_div=stop_div, beta=beta)
    device = torch.device(device) if device is not None else next(model.parameters()).device

    with preserved_state(model, optimizer), _progress(s, progress) as bar:
        curve, reason = _Curve(s, bar), None
        model.train()
        for x, y in _batches(loader, s.num_it):
            for g in optimizer.param_groups:
                g["lr"] = curve.next_lr
            loss = loss_func(model(x.to(device, non_blocking=True)), y.to(device, non_blocking=True))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            reason = curve.record(loss)
            if reason is not None:
                break
    return result_from_curve(curve.lrs, curve.losses, curve.raw, reason, s, methods,
                             batch_size=getattr(loader, "batch_size", None), seed=seed, label=label)


def _dry_run_capped(learn, s: FinderSettings) -> FinderSettings:
    """``s`` with fewer iterations over the same LR range when ``learn`` carries a dry run's StepCap."""
    from lrkit.core.dry_run import StepCap

    cap = next((cb for cb in learn.cbs if isinstance(cb, StepCap)), None)
    return s if cap is None else replace(s, num_it=cap.range_test(s.num_it, learn.dls.train.bs))


class _Ticks(Callback):
    """Moves a progress bar on at each training batch (fastai's own bar, without a table, is left empty)."""

    def __init__(self, bar):
        self.bar, self.count = bar, 0

    def after_batch(self):
        if self.training:
            self.count += 1
            self.bar.update(self.count)


def fastai_lr_find(learn, *, settings: FinderSettings | None = None, progress: bool = True,
                   **overrides) -> FinderResult:
    """fastai's own ``learn.lr_find()`` with all four suggestions, packaged like :func:`find_lr`'s
    result so the two can be compared side by side. fastai saves and reloads the model under
    ``learn.path/models``: build the learner with a path outside the repository."""
    import fastai.callback.progress  # noqa: F401  (adds Learner.no_bar)
    from fastai.callback.schedule import minimum, slide, steep, valley

    s = _dry_run_capped(learn, _settings(settings, **overrides))
    if s.beta != 0.98 or s.div_factor != 4.0:
        raise ValueError(f"fastai's lr_find has beta 0.98 and div_factor 4 built in; got {s.beta} and {s.div_factor}")
    with learn.no_logging(), learn.no_bar(), _progress(s, progress) as bar, \
            learn.added_cbs([_Ticks(bar)] if bar is not None else []):
        sugg = learn.lr_find(start_lr=s.start_lr, end_lr=s.end_lr, num_it=s.num_it, stop_div=s.stop_div,
                             show_plot=False, suggest_funcs=(valley, slide, minimum, steep))
    rec = learn.recorder
    losses = [float(l) for l in rec.losses]
    reason: StopReason = "num_it" if len(losses) >= s.num_it else "diverged"
    result = result_from_curve(rec.lrs, losses, [float("nan")] * len(losses), reason, s,
                               batch_size=learn.dls.train.bs, label="fastai lr_find")
    return replace(result, suggestions=dict(sugg._asdict()))
