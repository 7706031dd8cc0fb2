"""Command line: ``python -m lrkit fetch`` gets the offline data, ``status`` shows what is here."""
from __future__ import annotations

import argparse
import sys
import warnings

from .assets import DatasetMissingError, asset_status, fetch_fashion_mnist

__all__ = ["main"]


def _status(_args) -> int:
    for row in asset_status():
        mark = "ok     " if row.available else "missing"
        print(f"{mark} {row.name:32} {row.where}" + ("" if row.available else f"\n        get it: {row.how_to_get}"))
    return 0


def _fetch(_args) -> int:
    try:
        print(f"Fashion-MNIST: {fetch_fashion_mnist()}")
    except DatasetMissingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    missing = [r for r in asset_status() if not r.available and r.kind != "dataset (online)"]
    for row in missing:
        print(f"missing: {row.name}: {row.how_to_get}", file=sys.stderr)
    return 1 if missing else 0


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)
    parser = argparse.ArgumentParser(prog="python -m lrkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="obtain the offline datasets (idempotent)").set_defaults(func=_fetch)
    sub.add_parser("status", help="list datasets and weights and whether they are here").set_defaults(func=_status)
    args = parser.parse_args(argv)
    return args.func(args)
