"""Command line: ``python -m lrkit fetch`` gets the offline data, ``status`` shows what is here,
``sweep`` runs batch-size sweeps headless into the result cache, ``grid`` trains the ground-truth
grid (batch size x LR x seed x optimizer) into it, in this process or on Ray."""
from __future__ import annotations

import argparse
import sys
import warnings

from lrkit.core.assets import DatasetMissingError, asset_status, fetch_all

__all__ = ["main"]

PROG = "python -m lrkit"


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (what was expected, what was got), exit 2."""

    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, got {text!r}")
    return value


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
    from lrkit.core.cache import ResultCache
    from lrkit.runs.learners import sweep_builder
    from lrkit.methods.range_test import FinderSettings
    from lrkit.core.session import setup
    from lrkit.methods.curve_stats import divergence_lr
    from lrkit.runs.sweeps import SweepSpec, run_sweep

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


def _grid(args) -> int:
    import statistics

    from lrkit.core.cache import ResultCache
    from lrkit.core.session import setup
    from lrkit.runs.grid import grid_spec_for, per_seed_best, run_grid

    if args.address and args.engine != "ray":
        raise ValueError(f"--address {args.address} names a Ray cluster; add --engine ray")
    session = setup(args.profile, style=False)
    changes = {name: tuple(getattr(args, name)) for name in ("batch_sizes", "lrs", "seeds", "optimizers")
               if getattr(args, name) is not None}
    spec = grid_spec_for(session.profile, **changes)
    cache = ResultCache(args.cache) if args.cache else ResultCache()
    where = f"Ray at {args.address}" if args.address else ("a local Ray instance" if args.engine == "ray" else
                                                            f"this process ({session.device})")
    print(f"grid of {len(spec.cells())} cells on {where}: batch sizes {list(spec.batch_sizes)}, LRs "
          f"{list(spec.lrs)}, seeds {list(spec.seeds)}, {', '.join(spec.optimizers)}; cache {cache.root}")
    result = run_grid(spec, session=session, engine=args.engine, address=args.address, cache=cache)
    print(f"{len(result.computed)} cells trained, {len(result.runs) - len(result.computed)} from the cache, "
          f"{len(result.failed)} failed")
    for failure in result.failed:
        print(f"failed: {failure}", file=sys.stderr)
    for opt in spec.optimizers:
        for bs, per_seed in per_seed_best(result, opt, spec.stop_at, spec.metric).items():
            found = [best[0] for best in per_seed.values() if best is not None]
            shown = f"{statistics.median(found):.3g} (median of {len(found)} seeds)" if found else "none reached it"
            print(f"  {opt:5} batch size {bs:5d}: best LR to {spec.metric} {spec.stop_at:g}: {shown}")
    return 1 if result.failed else 0


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)
    from lrkit.core.data import DATASETS

    parser = _Parser(prog=PROG, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                metavar="{fetch,status,sweep,grid}")
    sub.add_parser("fetch", help="obtain the offline datasets (idempotent)").set_defaults(func=_fetch)
    sub.add_parser("status", help="list datasets and weights and whether they are here").set_defaults(func=_status)
    sweep = sub.add_parser("sweep", help="LR range tests over batch sizes x seeds, cached on disk")
    sweep.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="default: $LRKIT_PROFILE or by device")
    sweep.add_argument("--dataset", default="fashion_mnist", choices=sorted(DATASETS))
    sweep.add_argument("--model", default="tiny_cnn", choices=["tiny_cnn", "small_cnn"])
    sweep.add_argument("--opt", default="sgd", choices=["sgd", "adam"])
    sweep.add_argument("--batch-sizes", type=_positive(int), nargs="+", default=[64, 32, 16, 8, 4])
    sweep.add_argument("--seeds", type=_non_negative_int, nargs="+", help="default: the profile's seeds")
    sweep.add_argument("--n-train", type=_positive(int), help="default: the profile's")
    sweep.add_argument("--num-it", type=_positive(int), default=100, help="at least 6")
    sweep.add_argument("--pretrain-epochs", type=_non_negative_int, default=3)
    sweep.add_argument("--pretrain-lr", type=_positive(float), default=1e-2)
    sweep.add_argument("--cache", help="cache folder (default: $LRKIT_CACHE or $LRKIT_HOME/results)")
    sweep.add_argument("--recompute", action="store_true", help="ignore cached cells")
    sweep.set_defaults(func=_sweep)
    grid = sub.add_parser("grid", help="train the grid of batch size x LR x seed x optimizer to a target, cached")
    grid.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="the grid's sizes; default: $LRKIT_PROFILE "
                      "or by device")
    grid.add_argument("--engine", choices=["local", "ray"], default="local", help="this process, or one Ray task "
                      "per cell")
    grid.add_argument("--address", help="a Ray cluster ('auto', 'ray://HOST:10001'); default: a local Ray instance")
    grid.add_argument("--batch-sizes", type=_positive(int), nargs="+", help="default: the profile's")
    grid.add_argument("--lrs", type=_positive(float), nargs="+", help="default: the profile's")
    grid.add_argument("--seeds", type=_non_negative_int, nargs="+", help="default: the profile's")
    grid.add_argument("--optimizers", choices=["sgd", "adam", "plain_sgd"], nargs="+", help="default: sgd adam")
    grid.add_argument("--cache", help="cache folder (default: $LRKIT_CACHE or $LRKIT_HOME/results)")
    grid.set_defaults(func=_grid)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:  # settings that do not fit together: one line, no traceback
        print(f"{PROG} {args.command}: error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:  # an optional engine that is not installed (Ray): what to install
        print(f"{PROG} {args.command}: error: {err}", file=sys.stderr)
        return 1
