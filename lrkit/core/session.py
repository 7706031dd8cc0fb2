"""``lrkit.setup()``: the one call that picks device, profile, seed and plot style.

Nothing here runs at import; each notebook calls ``setup()`` in its first cell.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from lrkit.core.profiles import Profile, resolve_profile

__all__ = ["Session", "setup", "pick_device", "PLOT_STYLE"]

PLOT_STYLE = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
}


@dataclass(frozen=True)
class Session:
    """What ``setup()`` chose; pass its parts on to data, models and runs."""

    profile: Profile
    device: torch.device
    seed: int
    workdir: Path  # fastai writes models/ here, never into the repository


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when present, else the CPU."""
    if device is not None:
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"Expected an available device, got {device} but CUDA is not available; use 'cpu'.")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def setup(profile: str | None = None, *, seed: int = 42, device: str | torch.device | None = None,
          style: bool = True) -> Session:
    """Choose device (CUDA when present), profile (``$LRKIT_PROFILE`` or by device), seed and plot style."""
    # fastai's import triggers torch's deprecation notice for torch.jit.script: noise for a learner
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)
    from fastai.torch_core import set_seed

    dev = pick_device(device)
    prof = resolve_profile(profile, cuda=dev.type == "cuda")
    set_seed(seed, reproducible=True)
    if style:
        import matplotlib.pyplot as plt

        plt.rcParams.update(PLOT_STYLE)
    workdir = Path(tempfile.mkdtemp(prefix="lrkit-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    return Session(profile=prof, device=dev, seed=seed, workdir=workdir)
