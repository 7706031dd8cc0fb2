"""LR range tests over a grid of batch sizes x seeds, one result per cell, cached on disk.

Each cell's result is stored as JSON under the settings that define it (not the device), so a
presenter's second run loads instantly and results computed on a GPU box can be copied in. A
cell that runs out of memory is reported and skipped; an interrupted sweep resumes with the
cells it lacks.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch

from lrkit.core.cache import ResultCache, load_result, store_payload
from lrkit.core.models import OptName
from lrkit.methods.curve_stats import STATISTICS
from lrkit.methods.range_test import FinderResult, FinderSettings, find_lr
from lrkit.runs.claims import Claim, trend_claim

CELL_FORMAT = 1  # raise when a change to the finder or the training changes what a cell holds

__all__ = ["SweepSpec", "SweepResult", "run_sweep", "pretrain", "is_out_of_memory",
           "rank_correlations", "per_seed", "sweep_trend", "log_slopes"]


@dataclass(frozen=True)
class SweepSpec:
    """Everything that defines a cell's result, except its batch size and seed."""

    dataset: str = "fashion_mnist"
    model: str = "tiny_cnn"
    opt: OptName = "sgd"
    n_train: int = 4800
    pretrain_epochs: int = 3  # train from scratch this long first (at pretrain_bs, pretrain_lr), then sweep
    pretrain_bs: int = 64
    pretrain_lr: float = 1e-2
    finder: FinderSettings = field(default_factory=FinderSettings)

    def cell_settings(self, bs: int, seed: int) -> dict:
        # the format version keeps results of older code from being read as current ones
        return {**asdict(self), "bs": bs, "seed": seed, "format": CELL_FORMAT}


@dataclass(frozen=True)
class SweepResult:
    spec: SweepSpec
    cells: dict[tuple[int, int], FinderResult]  # (batch size, seed) -> result
    skipped: dict[tuple[int, int], str]  # (batch size, seed) -> why
    computed: tuple[tuple[int, int], ...]  # cells trained in this call (the rest came from the cache)
    missing: tuple[tuple[int, int], ...] = ()  # cells neither cached nor computed (compute=False)

    @property
    def batch_sizes(self) -> list[int]:
        return sorted({bs for bs, _ in self.cells})

    def by_batch_size(self, bs: int) -> list[FinderResult]:
        return [r for (b, _), r in sorted(self.cells.items()) if b == bs]

    def median_statistic(self, statistic: Callable[[FinderResult], float | None]) -> dict[int, float]:
        """The median over seeds of ``statistic(result)`` for each batch size (None values dropped)."""
        out = {}
        for bs in self.batch_sizes:
            vals = [v for v in map(statistic, self.by_batch_size(bs)) if v is not None and np.isfinite(v)]
            if vals:
                out[bs] = float(np.median(vals))
        return out


def is_out_of_memory(err: BaseException) -> bool:
    if isinstance(err, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def pretrain(spec: SweepSpec, seed: int, build: Callable):
    """The learner every cell of ``seed`` starts from: ``pretrain_epochs`` of 1cycle at ``pretrain_bs``."""
    learn = build(spec, spec.pretrain_bs, seed)
    if spec.pretrain_epochs:
        with learn.no_logging(), learn.no_bar():
            learn.fit_one_cycle(spec.pretrain_epochs, spec.pretrain_lr)
    return learn


def _pretrained_state(spec: SweepSpec, seed: int, build: Callable) -> dict:
    return copy.deepcopy(pretrain(spec, seed, build).model.state_dict())


def rank_correlations(sweep: "SweepResult") -> dict[str, dict]:
    """For each statistic: its median over seeds at each batch size, and the Spearman rank
    correlation of those medians with the batch size (+1: rises with every doubling)."""
    from scipy.stats import spearmanr

    table = {}
    for name, stat in STATISTICS.items():
        med = sweep.median_statistic(stat)
        rho = float(spearmanr(list(med), list(med.values()))[0]) if len(med) > 2 else float("nan")
        table[name] = {**{f"bs {bs}": v for bs, v in med.items()}, "Spearman vs batch size": rho}
    return table


def run_sweep(spec: SweepSpec, batch_sizes: Iterable[int], seeds: Iterable[int], *, build: Callable | None,
              cache: ResultCache | None = None, progress: bool = True, recompute: bool = False,
              compute: bool = True) -> SweepResult:
    """One range test per (batch size, seed), from the same starting weights for a seed.

    ``build(spec, bs, seed)`` returns a fresh fastai ``Learner``; the sweep loads the seed's
    pretrained weights into it. Cached cells are loaded, missing ones computed and stored
    (with ``compute=False`` only loaded: what is missing is listed in the result).
    """
    from fastprogress.fastprogress import progress_bar

    cache = cache if cache is not None else ResultCache()
    cells_wanted = [(bs, seed) for seed in seeds for bs in batch_sizes]
    cells, skipped, computed = {}, {}, []
    todo = []
    for cell in cells_wanted:
        stored = None if recompute else load_result(FinderResult, spec.cell_settings(*cell), cache, kind="finder")
        if stored is not None:
            cells[cell] = stored
        else:
            todo.append(cell)
    if not compute:
        return SweepResult(spec, cells, {}, (), tuple(todo))
    states: dict[int, dict] = {}
    for bs, seed in (progress_bar(todo, leave=True) if progress and todo else todo):
        try:
            learn = build(spec, bs, seed)
            if spec.pretrain_epochs:  # without pretraining, build(seed) already gives the seed's weights
                if seed not in states:
                    states[seed] = _pretrained_state(spec, seed, build)
                learn.model.load_state_dict(states[seed])
            result = find_lr(learn, settings=spec.finder, seed=seed, label=f"bs {bs}", progress=False)
        except Exception as err:
            if not is_out_of_memory(err):
                raise
            skipped[(bs, seed)] = f"out of memory at batch size {bs}: {str(err).splitlines()[0][:200]}"
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            continue
        store_payload(cache, "finder", spec.cell_settings(bs, seed), result.to_dict())
        cells[(bs, seed)] = result
        computed.append((bs, seed))
    return SweepResult(spec, cells, skipped, tuple(computed))


def per_seed(sweep: SweepResult, statistic: Callable[[FinderResult], float | None]) -> dict[int, list[float]]:
    """``statistic`` at every batch size (in ``sweep.batch_sizes`` order), for each seed that has a
    finite value at all of them."""
    seeds = sorted({s for _, s in sweep.cells})
    out = {}
    for seed in seeds:
        vals = [statistic(sweep.cells[(bs, seed)]) if (bs, seed) in sweep.cells else None for bs in sweep.batch_sizes]
        if all(v is not None and np.isfinite(v) for v in vals):
            out[seed] = [float(v) for v in vals]
    return out


def sweep_trend(sweep: SweepResult, statistic: Callable[[FinderResult], float | None], statement: str, *,
                rising: bool = True) -> Claim:
    """"``statistic`` rises (falls) with the batch size", from each seed's own rank correlation."""
    return trend_claim(statement, sweep.batch_sizes, list(per_seed(sweep, statistic).values()), rising=rising)


def log_slopes(sweep: SweepResult, statistic: Callable[[FinderResult], float | None]) -> dict[int, float]:
    """For each seed, the slope of log(statistic) against log(batch size): 1 is the linear rule, 0.5
    the square-root rule, 0 no effect."""
    logb = np.log(sweep.batch_sizes)
    return {seed: float(np.polyfit(logb, np.log(v), 1)[0]) for seed, v in per_seed(sweep, statistic).items()}
