"""The same range test over several seeds: the median curve, a band, and each suggestion's spread.

The curve depends on the initial weights and the batch order, so one run can mislead.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from lrkit.methods.range_test import FinderResult, find_lr

__all__ = ["SeedSpread", "find_lr_seeds", "spread_of"]


@dataclass(frozen=True)
class SeedSpread:
    results: tuple[FinderResult, ...]
    lrs: tuple[float, ...]  # the common LR grid (the schedule is the same for every seed)
    median: tuple[float, ...]  # NaN where no seed reached that LR
    low: tuple[float, ...]  # 25th percentile
    high: tuple[float, ...]  # 75th percentile

    def suggestions(self, method: str) -> list[float]:
        """One value per seed (seeds whose curve was too short are left out)."""
        return [r.suggestions[method] for r in self.results if r.suggestions.get(method) is not None]

    def suggestion_summary(self, method: str) -> dict[str, float]:
        vals = np.array(self.suggestions(method))
        if not len(vals):
            return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "ratio max/min": float("nan")}
        return {"median": float(np.exp(np.median(np.log(vals)))), "min": float(vals.min()), "max": float(vals.max()),
                "ratio max/min": float(vals.max() / vals.min())}


def spread_of(results: Iterable[FinderResult]) -> SeedSpread:
    """Median and quartiles of the smoothed loss at each LR, over runs that share a schedule."""
    results = tuple(results)
    if not results:
        raise ValueError("Expected at least one range-test result, got none.")
    settings = {r.settings for r in results}
    if len(settings) > 1:
        raise ValueError(f"Expected runs with the same schedule, got {len(settings)} different settings.")
    n = max(len(r.lrs) for r in results)
    longest = max(results, key=lambda r: len(r.lrs))
    grid = np.full((len(results), n), np.nan)
    for i, r in enumerate(results):
        grid[i, : len(r.losses)] = r.losses
    with warnings.catch_warnings():  # columns past every run's stop are all-NaN, on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        med, lo, hi = (np.nanpercentile(grid, q, axis=0) for q in (50, 25, 75))
    return SeedSpread(results, longest.lrs, tuple(med), tuple(lo), tuple(hi))


def find_lr_seeds(build: Callable[[int], object], seeds: Iterable[int], *, cache_key: dict | None = None,
                  cache=None, **finder_kwargs) -> SeedSpread:
    """Run :func:`lrkit.find_lr` on ``build(seed)`` for each seed.

    With ``cache_key`` (JSON-able settings naming every input of the runs), each seed's run is stored
    in the result cache under ``{**cache_key, "seed": seed}`` and loaded from it next time."""
    from fastprogress.fastprogress import progress_bar

    from lrkit.core.cache import cached_result

    finder_kwargs = {"progress": False, **finder_kwargs}  # one bar over the seeds, not one per test
    seeds = list(seeds)

    def run(seed: int) -> FinderResult:
        return find_lr(build(seed), seed=seed, label=f"seed {seed}", **finder_kwargs)

    return spread_of(run(seed) if cache_key is None else
                     cached_result(FinderResult, {**cache_key, "seed": seed}, lambda: run(seed), cache)
                     for seed in progress_bar(seeds, leave=True))

