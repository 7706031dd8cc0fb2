"""A result cache on disk: JSON files keyed by the settings that produced them.

Writes are atomic (a temporary file in the same folder, then ``os.replace``), so an interrupted
run never leaves half a file; a corrupt file is reported and treated as missing. Files hold
only JSON (never pickle), so results computed on another machine (a GPU box) can be copied
in and loaded safely.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

__all__ = ["ResultCache", "CorruptCacheWarning", "cache_home", "settings_key", "cached_result", "cached_json",
           "check_fields", "load_result", "store_payload"]

SCHEMA = 1
# Part of every key: bump it when a change makes stored results differ from what the code computes now,
# so nobody is shown an old result (2: the range test on a Learner runs its callbacks; 3: scikit-learn's
# split of the silhouettes, like-for-like optimizers, the step Prodigy took, sharpness at a saddle).
RESULTS_VERSION = 3


class CorruptCacheWarning(UserWarning):
    """A cache file could not be read; it will be recomputed."""


def cache_home() -> Path:
    """``$LRKIT_CACHE``, else ``$LRKIT_HOME/results`` (``~/.cache/lrkit/results``)."""
    from lrkit.core.assets import lrkit_home

    return Path(os.environ.get("LRKIT_CACHE") or lrkit_home() / "results")


def settings_key(settings: dict[str, Any]) -> str:
    """A stable hash of JSON-able settings (key order does not matter)."""
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def _versioned(settings: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise TypeError(f"Expected the settings as a dict, got {type(settings).__name__}")
    return {**settings, "results_version": RESULTS_VERSION}


class ResultCache:
    """``get(kind, settings)`` / ``put(kind, settings, payload)`` with JSON payloads."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else cache_home()

    def path(self, kind: str, settings: dict[str, Any]) -> Path:
        return self.root / kind / f"{settings_key(_versioned(settings))}.json"

    def get(self, kind: str, settings: dict[str, Any]) -> Any | None:
        """The stored payload, or None when absent or unreadable (with a warning naming the file)."""
        path = self.path(kind, settings)
        try:
            if not path.exists():
                return None
            record = json.loads(path.read_text())
            if record.get("schema") != SCHEMA or record.get("settings") != json.loads(json.dumps(_versioned(settings))):
                raise ValueError("settings or schema do not match the file name")
            return record["payload"]
        except (OSError, ValueError, KeyError, AttributeError, UnicodeDecodeError) as err:  # OSError: permissions
            warnings.warn(f"Ignoring unreadable cache file {path} ({err}); it will be recomputed.",
                          CorruptCacheWarning, stacklevel=2)
            return None

    def put(self, kind: str, settings: dict[str, Any], payload: Any) -> Path:
        path = self.path(kind, settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"schema": SCHEMA, "kind": kind, "settings": _versioned(settings), "payload": payload}
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(record, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


def check_fields(result_type, d: Any) -> dict:
    """Refuse a stored result of another shape (another version of lrkit, another kind of result)
    with a message naming the fields, instead of a TypeError or KeyError from deep inside."""
    if not isinstance(d, dict):
        raise ValueError(f"Expected a stored {result_type.__name__} as a JSON object, got {type(d).__name__}")
    fields = dataclasses.fields(result_type)
    names = {f.name for f in fields}
    required = {f.name for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    missing, unknown = sorted(required - d.keys()), sorted(d.keys() - names)
    if missing or unknown:
        raise ValueError(f"Expected a stored {result_type.__name__}; this one lacks {missing or 'nothing'} and has "
                         f"unknown fields {unknown or 'none'}. It comes from another kind of result or another "
                         "version of lrkit: compute it again")
    return d


def cached_json(kind: str, settings: dict[str, Any], compute, cache: ResultCache | None = None) -> Any:
    """``compute()`` (returning JSON-able data) once per ``settings``; later calls load it."""
    cache = cache if cache is not None else ResultCache()
    payload = cache.get(kind, settings)
    if payload is None:
        payload = compute()
        store_payload(cache, kind, settings, payload)
    return payload


def store_payload(cache: ResultCache, kind: str, settings: dict[str, Any], payload: Any) -> None:
    """``cache.put``, or a warning when the cache folder cannot be written: the result is kept in
    memory and computed again next time."""
    try:
        cache.put(kind, settings, payload)
    except OSError as err:  # a read-only or full cache folder: keep the result, say it was not stored
        warnings.warn(f"Could not store the result in {cache.root} ({err}); it will be computed again next time.",
                      CorruptCacheWarning, stacklevel=3)


def load_result(result_type, settings: dict[str, Any], cache: ResultCache | None = None, *, kind: str | None = None):
    """The stored ``result_type`` for ``settings`` (under ``kind``, by default the type's name), or None
    when absent, unreadable or of another shape (an older version of lrkit; reported with a warning
    naming the file)."""
    cache = cache if cache is not None else ResultCache()
    kind = kind or result_type.__name__
    payload = cache.get(kind, settings)
    if payload is None:
        return None
    try:
        return result_type.from_dict(payload)
    except (ValueError, TypeError, KeyError) as err:
        warnings.warn(f"Ignoring the stored result at {cache.path(kind, settings)} ({err}); "
                      "it will be recomputed.", CorruptCacheWarning, stacklevel=2)
        return None


def cached_result(result_type, settings: dict[str, Any], compute, cache: ResultCache | None = None):
    """``compute()`` once per ``settings``: later calls load the stored result (presenter mode).

    ``result_type`` is a result dataclass with ``to_dict``/``from_dict`` (FitResult, FinderResult).
    """
    cache = cache if cache is not None else ResultCache()
    result = load_result(result_type, settings, cache)
    if result is None:
        result = compute()
        store_payload(cache, result_type.__name__, settings, result.to_dict())
    return result
