"""Command line: ``python -m lrkit fetch`` gets the offline data, ``status`` shows what is here,
``sweep`` runs batch-size sweeps headless into the result cache."""
from __future__ import annotations

import argparse
import sys
import warnings

from .assets import DatasetMissingError, asset_status, fetch_all

__all__ = ["main"]


def _status(_args) -> int:
    for row in asset_status():
        mark = "ok     " if row.available else "missing"
        print(f"{mark} {row.name:32} {row.where}" + ("" if row.available else f"\n        get it: {row.how_to_get}"))
    return 0


def _fetch(_args) -> int:
    try:
        for name, where in fetch_all().items():
            print(f"{name}: {where}")
    except DatasetMissingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    missing = [r for r in asset_status() if not r.available and r.kind != "dataset (online)"]
    for row in missing:
        print(f"missing: {row.name}: {row.how_to_get}", file=sys.stderr)
    return 1 if missing else 0


def _sweep(args) -> int:
    from .cache import ResultCache
    from .experiments import sweep_builder
    from .finder import FinderSettings
    from .session import setup
    from .sweeps import SweepSpec, divergence_lr, run_sweep

    session = setup(args.profile, style=False)
    spec = SweepSpec(dataset=args.dataset, model=args.model, opt=args.opt,
                     n_train=args.n_train or session.profile.n_train, pretrain_epochs=args.pretrain_epochs,
                     pretrain_lr=args.pretrain_lr, finder=FinderSettings(num_it=args.num_it))
    seeds = args.seeds if args.seeds is not None else list(session.profile.seeds)
    cache = ResultCache(args.cache) if args.cache else ResultCache()
    print(f"sweep on {session.device}: batch sizes {args.batch_sizes}, seeds {seeds}; cache {cache.root}")
    result = run_sweep(spec, args.batch_sizes, seeds, build=sweep_builder(session), cache=cache,
                       recompute=args.recompute)
    print(f"{len(result.computed)} cells computed, {len(result.cells) - len(result.computed)} from the cache, "
          f"{len(result.skipped)} skipped")
    for cell, why in sorted(result.skipped.items()):
        print(f"skipped bs {cell[0]} seed {cell[1]}: {why}", file=sys.stderr)
    for bs, lr in result.median_statistic(divergence_lr).items():
        print(f"  batch size {bs:4d}: loss diverges from LR {lr:.2e} (median over seeds)")
    return 0


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)
    parser = argparse.ArgumentParser(prog="python -m lrkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="obtain the offline datasets (idempotent)").set_defaults(func=_fetch)
    sub.add_parser("status", help="list datasets and weights and whether they are here").set_defaults(func=_status)
    sweep = sub.add_parser("sweep", help="LR range tests over batch sizes x seeds, cached on disk")
    sweep.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="default: $LRKIT_PROFILE or by device")
    sweep.add_argument("--dataset", default="fashion_mnist")
    sweep.add_argument("--model", default="tiny_cnn", choices=["tiny_cnn", "small_cnn"])
    sweep.add_argument("--opt", default="sgd", choices=["sgd", "adam"])
    sweep.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 32, 16, 8, 4])
    sweep.add_argument("--seeds", type=int, nargs="+", help="default: the profile's seeds")
    sweep.add_argument("--n-train", type=int, help="default: the profile's")
    sweep.add_argument("--num-it", type=int, default=100)
    sweep.add_argument("--pretrain-epochs", type=int, default=3)
    sweep.add_argument("--pretrain-lr", type=float, default=1e-2)
    sweep.add_argument("--cache", help="cache folder (default: $LRKIT_CACHE or $LRKIT_HOME/results)")
    sweep.add_argument("--recompute", action="store_true", help="ignore cached cells")
    sweep.set_defaults(func=_sweep)
    args = parser.parse_args(argv)
    return args.func(args)
