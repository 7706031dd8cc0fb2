"""Run profiles: how much data, how many iterations, seeds and epochs a lesson uses.

``ci`` keeps every notebook to about a minute on two CPU cores, ``cpu`` shows each
effect clearly within minutes, ``gpu`` uses full datasets and bigger models.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["Profile", "PROFILES", "ProfileName", "resolve_profile", "STEP_CAP_VAR", "step_cap"]

STEP_CAP_VAR = "LRKIT_STEP_CAP"  # a dry run: see lrkit.core.dry_run

ProfileName = Literal["ci", "cpu", "gpu"]


@dataclass(frozen=True)
class Profile:
    """The sizes a lesson reads instead of hard-coding them."""

    name: str
    n_train: int  # training images per dataset (stratified subset)
    n_valid: int
    num_it: int  # iterations of an LR range test
    seeds: tuple[int, ...]  # seeds for multi-seed runs
    epochs: int  # epochs of a comparison fit
    batch_sizes: tuple[int, ...]  # batch-size sweeps
    description: str
    mixed_precision: bool = False  # fp16 autocast with loss scaling for the pretrained network (CUDA only)
    step_cap: int | None = None  # a dry run ($LRKIT_STEP_CAP): the profile's sizes, its training cut short

    def with_(self, **changes) -> "Profile":
        """A copy with some fields changed, e.g. ``profile.with_(epochs=1)``."""
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci", n_train=1200, n_valid=300, num_it=100, seeds=(0, 1), epochs=2,
        batch_sizes=(64, 32, 16, 8, 4),
        description="tiny: each notebook runs in about a minute on 2 CPU cores",
    ),
    "cpu": Profile(
        name="cpu", n_train=4800, n_valid=1200, num_it=100, seeds=(0, 1, 2, 3, 4), epochs=3,
        batch_sizes=(64, 32, 16, 8, 4),
        description="default without a GPU: each effect shown clearly within minutes",
    ),
    # For one GPU (its cost per notebook, estimated from the dry run, is in the README): the whole of
    # Fashion-MNIST (60,000 images) held on the device, 5 seeds, 5 epochs; batch sizes up to 256 in the
    # sweep, where a CPU would take too long; mixed precision for EfficientNet, where tensor cores pay
    # (on the tiny CNNs it would only add work).
    "gpu": Profile(
        name="gpu", n_train=60000, n_valid=10000, num_it=200, seeds=(0, 1, 2, 3, 4), epochs=5,
        batch_sizes=(256, 128, 64, 32, 16, 8, 4), mixed_precision=True,
        description="default with CUDA: full datasets, 5 seeds, batch sizes up to 256, mixed precision "
                    "for the pretrained network",
    ),
}


def resolve_profile(name: str | None = None, *, cuda: bool = False) -> Profile:
    """Pick a profile: ``name``, else ``$LRKIT_PROFILE``, else ``gpu`` with CUDA and ``cpu`` without."""
    chosen = name or os.environ.get("LRKIT_PROFILE") or ("gpu" if cuda else "cpu")
    try:
        profile = PROFILES[chosen.strip().lower()]
    except KeyError:
        raise ValueError(
            f"Unknown lrkit profile {chosen!r}; expected one of {sorted(PROFILES)}. "
            "Set LRKIT_PROFILE to one of them or pass profile=... to lrkit.setup()."
        ) from None
    cap = step_cap()
    return profile if cap is None else profile.with_(step_cap=cap)


def step_cap() -> int | None:
    """``$LRKIT_STEP_CAP`` as a positive integer, or None when it is unset or empty."""
    raw = os.environ.get(STEP_CAP_VAR, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"Expected {STEP_CAP_VAR} to be a positive whole number of steps (or unset), got "
                         f"{raw!r}; unset it for real training.")
    return int(raw)
