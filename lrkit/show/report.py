"""What the setup-check notebook reports: versions, device and profile."""
from __future__ import annotations

import platform

from lrkit.core.session import Session

__all__ = ["environment_report"]


def environment_report(session: Session) -> dict[str, str]:
    """Versions of the packages the kit relies on, and what ``setup()`` chose."""
    import fastai
    import ipywidgets
    import matplotlib
    import torch

    from lrkit.core import __version__

    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "fastai": fastai.__version__,
        "ipywidgets": ipywidgets.__version__,
        "matplotlib": matplotlib.__version__,
        "lrkit": __version__,
        "CUDA": cuda,
        "device": str(session.device),
        "profile": f"{session.profile.name} ({session.profile.description})",
        "CPU threads": str(torch.get_num_threads()),
    }
