"""Measured statements as data: what a lesson says, the per-seed numbers behind it, and whether this
run shows it.

A lesson is read long after it ran and on profiles it never ran on, so a sentence such as "1cycle
beats a constant LR" is not typed into the prose: it is a :class:`Claim` computed from the run's
paired seeds (same data order and initial weights for both conditions), printed with its effect,
how many seeds agree and a bootstrap interval, and a verdict:

- ``shown``: the 95% interval of the mean effect lies on the claimed side of zero (or of ``margin``);
- ``opposite``: it lies on the other side;
- ``not shown``: it straddles; with few seeds or a small effect, that is a result too.

The interval is SciPy's bootstrap (percentile method) of the mean over seeds, with a fixed random
state, so a claim's verdict is the same every time the same numbers are read.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, Sequence

import numpy as np

__all__ = ["Claim", "Verdict", "paired_claim", "trend_claim", "rank_agreement_claim", "hit_rate_claim", "check_claims"]

Verdict = Literal["shown", "not shown", "opposite"]
STRENGTHS = {"shown": ("shown",), "not opposite": ("shown", "not shown")}


@dataclass(frozen=True)
class Claim:
    """One measured statement: ``effects`` holds one number per seed, positive when the statement holds
    for that seed (a paired difference, or a rank correlation for a trend)."""

    statement: str
    effects: tuple[float, ...]
    interval: tuple[float, float]  # 95% bootstrap interval of the mean effect
    margin: float  # the effect must exceed this to count (0: any improvement)
    unit: str  # how an effect is printed: "points", "", "x" ...
    scale: float  # effects are printed multiplied by this (100 for accuracy in points)
    verdict: Verdict

    @property
    def mean(self) -> float:
        return float(np.mean(self.effects))

    @property
    def agree(self) -> int:
        """Seeds on the claimed side."""
        return int(sum(e > self.margin for e in self.effects))

    def render(self) -> str:
        """E.g. ``1cycle beats constant: +0.4 points, 4 of 5 paired seeds on the claimed side, 95% interval
        -0.1 to +0.9: not shown here``. The effect is positive where the statement holds."""
        s, u = self.scale, f" {self.unit}" if self.unit else ""
        lo, hi = self.interval
        side = f"past {self.margin * s:+.2g}{u}" if self.margin else "on the claimed side"
        return (f"{self.statement}: {self.mean * s:+.2g}{u}, {self.agree} of {len(self.effects)} paired seeds {side}, "
                f"95% interval {lo * s:+.2g} to {hi * s:+.2g}: {self.verdict} here")

    def __str__(self) -> str:
        return self.render()

    def to_dict(self) -> dict:
        return asdict(self)


def _interval(effects: np.ndarray, seed: int) -> tuple[float, float]:
    if len(effects) < 2 or np.all(effects == effects[0]):
        return float(effects.min()), float(effects.max())
    from scipy.stats import bootstrap

    res = bootstrap((effects,), np.mean, confidence_level=0.95, method="percentile", n_resamples=9999,
                    random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _claim(statement: str, effects, margin: float, unit: str, scale: float, seed: int) -> Claim:
    effects = np.asarray(effects, float)
    if effects.ndim != 1 or len(effects) < 2 or not np.all(np.isfinite(effects)):
        raise ValueError(f"Expected a finite effect for each of at least two seeds, got {effects.tolist()}")
    lo, hi = _interval(effects, seed)
    verdict: Verdict = "shown" if lo > margin else "opposite" if hi < margin else "not shown"
    return Claim(statement, tuple(map(float, effects)), (lo, hi), float(margin), unit, float(scale), verdict)


def paired_claim(statement: str, a: Sequence[float], b: Sequence[float], *, higher_is_better: bool = True,
                 margin: float = 0.0, unit: str = "", scale: float = 1.0, seed: int = 0) -> Claim:
    """"A beats B": ``a[i]`` and ``b[i]`` are the same seed's result under the two conditions. The effect
    of seed ``i`` is ``a[i] - b[i]`` (``b[i] - a[i]`` when lower is better, as for a loss)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"Expected one value per seed for both conditions, got {len(a)} and {len(b)}")
    return _claim(statement, (a - b) if higher_is_better else (b - a), margin, unit, scale, seed)


def trend_claim(statement: str, x: Sequence[float], per_seed: Sequence[Sequence[float]], *,
                rising: bool = True, seed: int = 0) -> Claim:
    """"Y rises (or falls) with X": for each seed the Spearman rank correlation of its values with ``x``
    (``+1``: rises at every step); the effect is that correlation, signed so that positive means the
    stated direction."""
    from scipy.stats import spearmanr

    x = np.asarray(x, float)
    rhos = []
    for ys in per_seed:
        ys = np.asarray(ys, float)
        if ys.shape != x.shape:
            raise ValueError(f"Expected {len(x)} values per seed (one per x), got {len(ys)}")
        rho = spearmanr(x, ys)[0] if np.ptp(ys) > 0 else 0.0
        rhos.append(rho if rising else -rho)
    return _claim(statement, rhos, 0.0, "rank correlation", 1.0, seed)


def rank_agreement_claim(statement: str, early: Sequence[Sequence[float]], final: Sequence[Sequence[float]], *,
                         seed: int = 0) -> Claim:
    """"The ranking read early holds at the end": for each seed, the Spearman rank correlation between
    ``early[i]`` and ``final[i]`` (one value per condition, say each weight decay's validation loss after
    one epoch and at the end); ``+1`` when the early order is the final order."""
    from scipy.stats import spearmanr

    if len(early) != len(final):
        raise ValueError(f"Expected early and final values for the same seeds, got {len(early)} and {len(final)}")
    rhos = []
    for e, f in zip(early, final):
        e, f = np.asarray(e, float), np.asarray(f, float)
        if e.shape != f.shape or len(e) < 3:
            raise ValueError(f"Expected at least three conditions with an early and a final value each, got "
                             f"{len(e)} and {len(f)}")
        rhos.append(spearmanr(e, f)[0] if np.ptp(e) > 0 and np.ptp(f) > 0 else 0.0)
    return _claim(statement, rhos, 0.0, "rank correlation", 1.0, seed)


def hit_rate_claim(statement: str, hits: Sequence[bool], chance: float, *, seed: int = 0) -> Claim:
    """"It happens more often than chance": ``hits[i]`` says whether seed ``i`` got it (the weight decay
    picked early is the one that ends best, say), ``chance`` the rate a random guess would reach. The effect
    of a seed is ``hit - chance``: the mean is the hit rate above chance."""
    if not 0 <= chance < 1:
        raise ValueError(f"Expected a chance rate from 0 to below 1, got {chance}")
    return _claim(statement, [float(bool(h)) - chance for h in hits], 0.0, "over chance", 1.0, seed)


def check_claims(claims: dict[str, tuple[Claim, str]]) -> list[str]:
    """For a lesson's closing cell: each claim at the strength its text states it (``"shown"``, or
    ``"not opposite"`` for one the profile may lack the power to show). Raises with every claim
    that falls short; returns the rendered lines."""
    unknown = {s for _, s in claims.values()} - set(STRENGTHS)
    if unknown:
        raise ValueError(f"Expected each claim's strength among {list(STRENGTHS)}, got {sorted(unknown)}")
    failed = [f"{name}: expected {strength}, got {claim.render()}" for name, (claim, strength) in claims.items()
              if claim.verdict not in STRENGTHS[strength]]
    if failed:
        raise AssertionError("Claims this run does not support:\n  " + "\n  ".join(failed))
    return [claim.render() for claim, _ in claims.values()]
