"""Several training conditions x several seeds, summarised as medians."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable, Literal, Mapping

import numpy as np

from lrkit.runs.claims import Claim, paired_claim
from lrkit.runs.training import FitResult

__all__ = ["run_conditions", "cached_conditions", "median_history", "summary_rows", "condition_claim"]


def run_conditions(train: Callable[..., FitResult], conditions: Mapping[str, dict], seeds: Iterable[int],
                   progress: bool = True, cache_key: dict | None = None, cache=None) -> dict[str, list[FitResult]]:
    """``train(seed=..., label=..., **kwargs)`` for every condition and seed.

    With ``cache_key`` (JSON-able settings naming the experiment), each run is stored in the
    result cache and loaded from it next time: a presenter's second run is instant."""
    from lrkit.core.cache import cached_result

    from fastprogress.fastprogress import progress_bar

    seeds = list(seeds)
    jobs = [(label, kw, seed) for label, kw in conditions.items() for seed in seeds]
    out: dict[str, list[FitResult]] = {label: [] for label in conditions}
    for label, kw, seed in (progress_bar(jobs, leave=True) if progress else jobs):
        run = lambda: train(seed=seed, label=label, **kw)  # noqa: E731
        out[label].append(run() if cache_key is None else
                          cached_result(FitResult, _run_key(cache_key, label, kw, seed), run, cache))
    return out


def _run_key(cache_key: dict, label: str, kwargs: dict, seed: int) -> dict:
    return {**cache_key, "label": label, "kwargs": kwargs, "seed": seed}


def cached_conditions(conditions: Mapping[str, dict], seeds: Iterable[int], cache_key: dict,
                      cache=None) -> tuple[dict[str, list[FitResult]], list[tuple[str, int]]]:
    """What :func:`run_conditions` with this ``cache_key`` has stored, without training: the runs
    found per condition, and the (condition, seed) pairs still missing."""
    from lrkit.core.cache import load_result

    found: dict[str, list[FitResult]] = {label: [] for label in conditions}
    missing = []
    for label, kw in conditions.items():
        for seed in seeds:
            result = load_result(FitResult, _run_key(cache_key, label, kw, seed), cache)
            if result is None:
                missing.append((label, seed))
            else:
                found[label].append(result)
    return found, missing


def median_history(results: list[FitResult]) -> FitResult:
    """Epoch-by-epoch medians over seeds, as one result (the first seed's schedule)."""
    if not results:
        raise ValueError("Expected at least one run, got none")

    def med(field):
        return tuple(float(v) for v in np.median([getattr(r, field) for r in results], axis=0))

    return replace(results[0], train_loss=med("train_loss"), valid_loss=med("valid_loss"), accuracy=med("accuracy"),
                   seconds=med("seconds"), diverged=any(r.diverged for r in results))


def summary_rows(grid: Mapping[str, list[FitResult]]) -> dict[str, dict[str, float]]:
    """Per condition: median final accuracy and validation loss over seeds, and seconds per epoch."""
    rows = {}
    for label, results in grid.items():
        m = median_history(results)
        rows[label] = {"final accuracy (median)": m.accuracy[-1], "final valid loss (median)": m.valid_loss[-1],
                       "best valid loss (median)": min(m.valid_loss), "seconds per epoch": float(np.mean(m.seconds)),
                       "seeds": len(results)}
    return rows


Metric = Literal["accuracy", "valid_loss"]


def condition_claim(grid: Mapping[str, list[FitResult]], better: str, worse: str, *, metric: Metric = "accuracy",
                    statement: str | None = None, margin: float = 0.0) -> Claim:
    """"``better`` beats ``worse``" at the end of training, paired seed by seed (both lists of runs in
    the same seed order, as :func:`run_conditions` returns them): accuracy in points, or validation
    loss (lower is better)."""
    a, b = grid[better], grid[worse]
    if len(a) != len(b):
        raise ValueError(f"Expected the same seeds for both conditions, got {len(a)} runs of {better!r} and "
                         f"{len(b)} of {worse!r}")
    final = (lambda r: r.final_accuracy) if metric == "accuracy" else (lambda r: r.valid_loss[-1])
    text = statement or f"{better} beats {worse} ({'final accuracy' if metric == 'accuracy' else 'final valid loss'})"
    return paired_claim(text, [final(r) for r in a], [final(r) for r in b], higher_is_better=metric == "accuracy",
                        margin=margin, unit="points" if metric == "accuracy" else "", scale=100 if metric == "accuracy" else 1)
