"""The ground truth behind the range test: real trainings over a grid of batch size x LR x seed x
optimizer, each trained until it reaches a target on the validation set or runs out of its budget of
training examples.

A cell records the steps and the examples it took to reach each level of the target metric (its
curve, evaluated every ``eval_every`` training examples), so the best LR and the steps and examples
to a target can be read for any target up to ``stop_at`` without training again. Cells are stored
in the result cache under every input that defines them, one file per cell: a grid that is
interrupted resumes with the cells it lacks, and cells computed elsewhere (a Ray cluster, a GPU box)
load like local ones.

``run_grid(spec, engine="local")`` trains the missing cells in this process, one after the other;
``engine="ray"`` sends one Ray task per cell (:mod:`lrkit.runs.ray_engine`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Callable, Iterable, Literal, Sequence, get_args

from lrkit.core.cache import ResultCache, check_fields, store_payload
from lrkit.core.models import OptName

__all__ = ["GridSpec", "GridCell", "CellRun", "GridResult", "GridFailure", "run_grid", "train_cell",
           "grid_spec_for", "reaches", "median_best_lr", "per_seed_best", "critical_batch_size", "best_lr_slopes",
           "readings_against_best", "how_readings_move"]

CELL_FORMAT = 1  # raise when a change to the training changes what a cell holds
Metric = Literal["accuracy", "valid_loss"]
Engine = Literal["local", "ray"]


def reaches(value: float, target: float, metric: Metric = "accuracy") -> bool:
    """Whether ``value`` of ``metric`` is at or past ``target``: an accuracy at least it, a loss at most."""
    return value >= target if metric == "accuracy" else value <= target


@dataclass(frozen=True, order=True)
class GridCell:
    """One training of the grid."""

    optimizer: str
    batch_size: int
    lr: float
    seed: int

    def describe(self) -> str:
        return f"{self.optimizer}, batch size {self.batch_size}, lr {self.lr:.3g}, seed {self.seed}"


@dataclass(frozen=True)
class GridSpec:
    """Everything that defines the grid's cells. Each cell trains at a constant LR until the metric
    reaches ``stop_at`` or ``budget_examples`` training examples have been seen."""

    batch_sizes: tuple[int, ...]
    lrs: tuple[float, ...] | tuple[tuple[str, tuple[float, ...]], ...]  # for all optimizers, or per optimizer
    seeds: tuple[int, ...]
    optimizers: tuple[str, ...] = ("sgd", "adam")
    metric: Metric = "accuracy"
    stop_at: float = 0.8  # the highest target the analysis may ask for
    budget_examples: int = 48_000
    eval_every: int = 1200  # training examples between two evaluations on the validation set
    dataset: str = "fashion_mnist"
    model: str = "tiny_cnn"
    n_train: int = 4800
    n_valid: int = 1200

    def __post_init__(self):
        for name in ("batch_sizes", "seeds", "lrs", "optimizers"):
            if not isinstance(getattr(self, name), tuple) or not getattr(self, name):
                raise ValueError(f"Expected {name} as a non-empty tuple, got {getattr(self, name)!r}")
        if not all(isinstance(b, int) and b > 0 for b in self.batch_sizes):
            raise ValueError(f"Expected positive whole batch sizes, got {self.batch_sizes!r}")
        if not all(isinstance(s, int) and s >= 0 for s in self.seeds):
            raise ValueError(f"Expected seeds as whole numbers of 0 or more, got {self.seeds!r}")
        if self.lrs and isinstance(self.lrs[0], tuple):
            if sorted(o for o, _ in self.lrs) != sorted(self.optimizers):
                raise ValueError(f"Expected LRs for each of the optimizers {list(self.optimizers)}, got them for "
                                 f"{[o for o, _ in self.lrs]}")
        for opt in self.optimizers:
            lrs = self.lrs_for(opt)
            if not lrs or not all(isinstance(lr, (int, float)) and 0 < lr < math.inf for lr in lrs):
                raise ValueError(f"Expected positive finite LRs, got {lrs!r} for {opt}")
        unknown = [o for o in self.optimizers if o not in get_args(OptName)]
        if unknown:
            raise ValueError(f"Unknown optimizer(s) {unknown}; expected some of {list(get_args(OptName))}")
        if self.metric not in ("accuracy", "valid_loss"):
            raise ValueError(f"Expected the metric 'accuracy' or 'valid_loss', got {self.metric!r}")
        for name in ("budget_examples", "eval_every", "n_train", "n_valid"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Expected {name} as a positive whole number, got {value!r}")
        if self.eval_every > self.budget_examples:
            raise ValueError(f"Expected eval_every ({self.eval_every}) at most budget_examples "
                             f"({self.budget_examples}): no evaluation would happen")

    def lrs_for(self, optimizer: str) -> tuple[float, ...]:
        if self.lrs and isinstance(self.lrs[0], tuple):
            return dict(self.lrs).get(optimizer, ())
        return self.lrs

    def cells(self) -> list[GridCell]:
        return [GridCell(opt, bs, float(lr), seed) for opt in self.optimizers for bs in self.batch_sizes
                for lr in self.lrs_for(opt) for seed in self.seeds]

    def cell_settings(self, cell: GridCell) -> dict:
        """The cache key of a cell: the spec's shared inputs and the cell's own (the format version keeps
        results of older code from being read as current ones)."""
        shared = {k: v for k, v in asdict(self).items() if k not in ("batch_sizes", "lrs", "seeds", "optimizers")}
        return {**shared, **asdict(cell), "format": CELL_FORMAT}


@dataclass(frozen=True)
class CellRun:
    """What one cell's training measured. ``curve_*`` hold one entry per evaluation, the first before
    any step; ``examples = steps * batch_size``."""

    cell: GridCell
    curve_steps: tuple[int, ...]
    curve_accuracy: tuple[float, ...]
    curve_valid_loss: tuple[float, ...]
    diverged: bool  # the training loss became NaN or infinite
    seconds: float

    @property
    def batch_size(self) -> int:
        return self.cell.batch_size

    def curve(self, metric: Metric) -> tuple[float, ...]:
        return self.curve_accuracy if metric == "accuracy" else self.curve_valid_loss

    def steps_to(self, target: float, metric: Metric = "accuracy") -> int | None:
        """Steps to the first evaluation at or past ``target`` (accuracy at least, loss at most), or
        None when the run never got there."""
        for steps, value in zip(self.curve_steps, self.curve(metric)):
            if reaches(value, target, metric):
                return steps
        return None

    def examples_to(self, target: float, metric: Metric = "accuracy") -> int | None:
        steps = self.steps_to(target, metric)
        return None if steps is None else steps * self.batch_size

    def final(self, metric: Metric = "accuracy") -> float:
        return self.curve(metric)[-1]

    def to_dict(self) -> dict:
        return {**asdict(self), "cell": asdict(self.cell)}

    @classmethod
    def from_dict(cls, d: dict) -> "CellRun":
        d = check_fields(cls, d)
        return cls(cell=GridCell(**check_fields(GridCell, d["cell"])),
                   **{f.name: tuple(d[f.name]) if f.name.startswith("curve_") else d[f.name]
                      for f in fields(cls) if f.name != "cell"})


@dataclass(frozen=True)
class GridFailure:
    """A cell whose training raised (on Ray: after its retry)."""

    cell: GridCell
    error: str

    def __str__(self) -> str:
        return f"{self.cell.describe()}: {self.error}"


@dataclass(frozen=True)
class GridResult:
    spec: GridSpec
    runs: dict[GridCell, CellRun]
    failed: tuple[GridFailure, ...] = ()
    computed: tuple[GridCell, ...] = ()  # trained by this call; the rest came from the cache
    missing: tuple[GridCell, ...] = ()  # neither cached nor trained (compute=False, or left out by a dry run)

    def select(self, *, optimizer: str | None = None, batch_size: int | None = None) -> list[CellRun]:
        return [r for c, r in sorted(self.runs.items())
                if (optimizer is None or c.optimizer == optimizer) and (batch_size is None or c.batch_size == batch_size)]


def _best(runs: Sequence[CellRun], target: float, metric: Metric) -> tuple[float, int] | None:
    """Among runs that differ only in their LR, the LR that reached ``target`` in the fewest steps (a
    tie goes to the better final value, then the lower LR) and those steps, or None."""
    reached = [(steps, -r.final(metric) if metric == "accuracy" else r.final(metric), r.cell.lr)
               for r in runs if (steps := r.steps_to(target, metric)) is not None]
    if not reached:
        return None
    steps, _, lr = min(reached)
    return lr, steps


def per_seed_best(result: GridResult, optimizer: str, target: float, metric: Metric = "accuracy"
                  ) -> dict[int, dict[int, tuple[float, int] | None]]:
    """For each batch size and seed: the best LR and the steps it took to ``target`` (the fewest over
    the LRs), or None when no LR reached it."""
    out: dict[int, dict[int, tuple[float, int] | None]] = {}
    for bs in result.spec.batch_sizes:
        out[bs] = {}
        runs = result.select(optimizer=optimizer, batch_size=bs)
        for seed in result.spec.seeds:
            out[bs][seed] = _best([r for r in runs if r.cell.seed == seed], target, metric)
    return out


def median_best_lr(best: dict[int, dict[int, tuple[float, int] | None]]) -> dict[int, float]:
    """The median over the seeds that reached the target of the best LR, at each batch size where one did."""
    import numpy as np

    return {bs: float(np.median(lrs)) for bs in sorted(best)
            if (lrs := [v[0] for v in best[bs].values() if v is not None])}


def critical_batch_size(batch_sizes: Sequence[int], steps: Sequence[float]) -> tuple[float, float, bool]:
    """McCandlish et al.'s front through the fewest steps to a target at each batch size:
    ``S = S_min (1 + B_crit / B)``, equivalently ``(S / S_min - 1)(E / E_min - 1) = 1`` with ``E = S B``
    and ``E_min = S_min B_crit``. Fitted in log space; returns (S_min, B_crit, whether the fit found a
    bend inside the measured range, rather than at a bound of its search)."""
    import numpy as np

    from lrkit.methods.noise_scale import bend_found, fit_noise_scale_curve

    # S(B) has the shape of 1 / LR(B) in the noise-scale curve LR_max / (1 + B_noise / B)
    inv_s_min, b_crit = fit_noise_scale_curve(batch_sizes, 1.0 / np.asarray(steps, float))
    return 1.0 / inv_s_min, b_crit, bend_found(batch_sizes, b_crit)


def best_lr_slopes(best: dict[int, dict[int, tuple[float, int] | None]]) -> dict[int, float]:
    """For each seed that reached the target at every batch size: the slope of log(best LR) against
    log(batch size) (``1``: the linear rule, ``0.5``: the square root, ``0``: no effect)."""
    import numpy as np

    sizes = sorted(best)
    seeds = sorted({s for per in best.values() for s in per})
    out = {}
    for seed in seeds:
        vals = [best[bs].get(seed) for bs in sizes]
        if all(v is not None for v in vals):
            out[seed] = float(np.polyfit(np.log(sizes), np.log([v[0] for v in vals]), 1)[0])
    return out


def readings_against_best(best: dict[int, dict[int, tuple[float, int] | None]],
                          readings: dict[str, dict[int, float]]) -> dict[str, dict[str, float]]:
    """Each range-test reading divided by the best LR (medians over seeds) at each batch size, and how
    far that ratio moves across the batch sizes (highest / lowest: ``1`` means the reading tracks the
    best LR exactly, up to a constant factor)."""
    import numpy as np

    medians = median_best_lr(best)
    table = {}
    for name, per_bs in readings.items():
        ratios = {}
        for bs in sorted(per_bs):
            if bs in medians and per_bs[bs] is not None and np.isfinite(per_bs[bs]):
                ratios[f"reading / best LR, bs {bs}"] = float(per_bs[bs] / medians[bs])
        if ratios:
            vals = list(ratios.values())
            table[name] = {**ratios, "ratio moves by (highest / lowest)": max(vals) / min(vals)}
    return table


def how_readings_move(best: dict[int, dict[int, tuple[float, int] | None]],
                      readings: dict[str, dict[int, float]]) -> list[str]:
    """Lines to print: the log-log slope against the batch size of the best LR (median over seeds) and
    of each reading, how far the best LR moves over the batch sizes, and which readings' ratio to it
    moves least (:func:`readings_against_best`)."""
    import numpy as np

    from lrkit.methods.noise_scale import fit_power_law

    medians = median_best_lr(best)
    if len(medians) < 2:
        return [f"the target was reached at {len(medians)} batch size(s): too few to compare the readings with"]
    sizes, med = list(medians), list(medians.values())
    slopes = {name: fit_power_law(list(r), list(r.values()))[1] for name, r in readings.items()
              if len([v for v in r.values() if v is not None and np.isfinite(v)]) > 1}
    lines = [f"log-log slope against the batch size of the best LR {fit_power_law(sizes, med)[1]:+.2f}; of "
             + ", ".join(f"{name} {s:+.2f}" for name, s in slopes.items())]
    table = readings_against_best(best, readings)
    if table:
        moves = {name: row["ratio moves by (highest / lowest)"] for name, row in table.items()}
        least = min(moves.values())
        lines.append(f"the best LR itself moves by a factor {max(med) / min(med):.2g} over these batch sizes (a "
                     f"reading that stayed flat would move its ratio as much); the ratio moves least, by "
                     f"{least:.2g}, for " + ", ".join(n for n, m in moves.items() if m <= least * 1.01))
    return lines


def _to_target(x, y, spec: GridSpec, batch_size: int):
    """A fastai callback (defined on first use, so this module imports without fastai): counts steps,
    evaluates on the validation tensors every ``spec.eval_every`` training examples, and ends the fit
    at the target, at the budget, or when the loss stops being finite. fastai's own per-epoch
    validation is skipped: the evaluations here replace it."""
    import torch
    from fastai.callback.core import Callback, CancelFitException, CancelValidException

    def evaluate(model) -> tuple[float, float]:
        was = model.training
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(x[i:i + 1024]) for i in range(0, len(x), 1024)])
        model.train(was)
        loss = float(torch.nn.functional.cross_entropy(logits.float(), y))
        return float((logits.argmax(1) == y).float().mean()), loss

    class ToTarget(Callback):
        order = 95  # after the optimizer step and the recorder

        def before_fit(self):
            self.steps, self.diverged = 0, False
            self.curve = [(0, *evaluate(self.learn.model))]
            self.next_eval = spec.eval_every

        def after_batch(self):
            if not self.training:
                return
            self.steps += 1
            if not math.isfinite(float(self.learn.loss.detach())):
                self.diverged = True
                raise CancelFitException()
            examples = self.steps * batch_size
            if examples >= self.next_eval or examples >= spec.budget_examples:
                while self.next_eval <= examples:
                    self.next_eval += spec.eval_every
                acc, loss = evaluate(self.learn.model)
                self.curve.append((self.steps, acc, loss))
                if reaches(acc if spec.metric == "accuracy" else loss, spec.stop_at, spec.metric):
                    raise CancelFitException()
            if examples >= spec.budget_examples:
                raise CancelFitException()

        def before_validate(self):
            raise CancelValidException()

    return ToTarget()


def train_cell(spec: GridSpec, cell: GridCell, session) -> CellRun:
    """Train one cell on ``session``'s device: a fresh learner for the cell's seed (data order and
    initial weights), a constant LR, until the target, the budget or divergence."""
    import time

    from lrkit.runs.learners import build_learner

    learn = build_learner(session, dataset=spec.dataset, model=spec.model, bs=cell.batch_size,
                          opt=cell.optimizer, seed=cell.seed, n_train=spec.n_train, n_valid=spec.n_valid)
    n_train = len(learn.dls.train.dataset)
    if cell.batch_size > n_train:
        raise ValueError(f"Expected a batch size at most the {n_train} training images, got {cell.batch_size}: "
                         f"no full batch can be drawn; use a smaller batch size or more training images")
    valid = learn.dls.valid.dataset
    watch = _to_target(valid.x, valid.y, spec, cell.batch_size)
    steps_per_epoch = n_train // cell.batch_size
    epochs = math.ceil(spec.budget_examples / (steps_per_epoch * cell.batch_size))
    start = time.perf_counter()
    with learn.no_bar(), learn.no_logging():
        learn.fit(epochs, cell.lr, cbs=[watch])
    steps, acc, loss = zip(*watch.curve)
    return CellRun(cell, tuple(steps), tuple(acc), tuple(loss), watch.diverged, time.perf_counter() - start)


def grid_spec_for(profile, **changes) -> GridSpec:
    """The grid a profile runs (notebook 09's): ci is tiny, cpu shows the shapes on a CPU within
    minutes, gpu is the full grid, meant for ``make precompute`` or a Ray cluster. LRs go up in
    steps of sqrt(10) (gpu: 10 ** 0.25), over each optimizer's own range."""
    def steps(lo: int, hi: int, per_decade: int) -> tuple[float, ...]:
        return tuple(float(f"{10 ** (k / per_decade):.4g}") for k in range(lo, hi + 1))

    sizes = {
        "ci": dict(batch_sizes=(64, 16), lrs=(("sgd", (0.03, 0.3)), ("adam", (1e-3, 1e-2))), seeds=(0, 1),
                   budget_examples=2400, eval_every=300, n_train=1200, n_valid=300, stop_at=0.65),
        "cpu": dict(batch_sizes=(256, 64, 16), lrs=(("sgd", steps(-4, 0, 2)), ("adam", steps(-7, -2, 2))),
                    seeds=(0, 1, 2), budget_examples=9600, eval_every=480, n_train=4800, n_valid=1200,
                    stop_at=0.78),
        "gpu": dict(batch_sizes=(512, 128, 32), lrs=(("sgd", steps(-10, 0, 4)), ("adam", steps(-18, -6, 4))),
                    seeds=(0, 1, 2, 3, 4), budget_examples=300_000, eval_every=3000, n_train=60_000,
                    n_valid=10_000, stop_at=0.87),
    }[profile.name]
    return GridSpec(**{**sizes, **changes})


def _load(spec: GridSpec, cell: GridCell, cache: ResultCache) -> CellRun | None:
    from lrkit.core.cache import load_result

    return load_result(CellRun, spec.cell_settings(cell), cache, kind="grid")


def run_grid(spec: GridSpec, *, session=None, engine: Engine = "local", address: str | None = None,
             cache: ResultCache | None = None, progress: bool = True, compute: bool = True,
             on_result: Callable[[CellRun], None] | None = None) -> GridResult:
    """Every cell of ``spec``: from the cache, else trained (in this process, or one Ray task per cell
    with ``engine="ray"``, at ``address`` or on a local Ray instance). Each result is written to the
    cache as it arrives, so an interrupted grid keeps what finished. A cell that raises is reported in
    ``failed`` with its settings; the others go on. ``compute=False`` only loads (what is missing is
    listed). ``on_result`` is called with each newly trained cell."""
    cache = cache if cache is not None else ResultCache()
    runs, todo = {}, []
    for cell in spec.cells():
        stored = _load(spec, cell, cache)
        if stored is not None:
            runs[cell] = stored
        else:
            todo.append(cell)
    if not compute or not todo:
        return GridResult(spec, runs, missing=tuple(todo) if not compute else ())
    from lrkit.core.dry_run import capped_cells

    todo, left_out = capped_cells(todo, group=lambda c: (c.optimizer, c.batch_size),
                                  budget=lambda c: (spec.budget_examples, spec.budget_examples // c.batch_size))
    if engine == "local":
        results = _local(spec, todo, session, progress)
    elif engine == "ray":
        from lrkit.runs.ray_engine import ray_cells

        results = ray_cells(spec, todo, address=address, progress=progress)
    else:
        raise ValueError(f"Expected the engine 'local' or 'ray', got {engine!r}")
    failed, computed = [], []
    for outcome in results:  # as they arrive
        if isinstance(outcome, GridFailure):
            failed.append(outcome)
            continue
        store_payload(cache, "grid", spec.cell_settings(outcome.cell), outcome.to_dict())
        runs[outcome.cell] = outcome
        computed.append(outcome.cell)
        if on_result is not None:
            on_result(outcome)
    return GridResult(spec, runs, tuple(failed), tuple(computed), tuple(left_out))


def _local(spec: GridSpec, todo: Sequence[GridCell], session, progress: bool) -> Iterable[CellRun | GridFailure]:
    if session is None:
        from lrkit.core.session import setup

        session = setup(style=False)
    cells: Iterable[GridCell] = todo
    if progress:
        from fastprogress.fastprogress import progress_bar

        cells = progress_bar(todo, leave=True)
    for cell in cells:
        try:
            yield train_cell(spec, cell, session)
        except Exception as err:  # reported by cell; the grid goes on
            yield GridFailure(cell, f"{type(err).__name__}: {err}")
