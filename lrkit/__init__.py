"""lrkit: helpers for lessons on the learning rate and the batch size.

Importing lrkit has no side effects; call :func:`lrkit.setup` first in a notebook.
"""
from .profiles import PROFILES, Profile, resolve_profile
from .session import Session, setup

__all__ = ["PROFILES", "Profile", "Session", "resolve_profile", "setup", "__version__"]
__version__ = "0.1.0"
