"""The ground-truth grid in this process against the same grid on a local Ray instance.

Both train the same cells (so the same work) from an empty cache, one after the other in one run,
alternating which goes first over the rounds; Ray's time includes starting the instance and its
workers and shutting it down. Reports the median wall time of each, their ratio (Ray / local; the
goal is at most 1.15 for cells of 5 s or more) and the time per cell. With more CPUs than one,
Ray trains cells side by side and the ratio can fall below 1. Run: ``python -m bench grid``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

GOAL = 1.15


def _spec(budget: int):
    from lrkit.runs.grid import GridSpec

    # cells long enough to count (the goal is for cells of 5 s or more): a constant LR that never
    # reaches an unreachable target trains the whole budget
    return GridSpec(batch_sizes=(32, 16), lrs=(0.01, 0.03), seeds=(0, 1), optimizers=("sgd",), stop_at=0.999,
                    budget_examples=budget, eval_every=budget // 4, n_train=4800, n_valid=1200)


def _timed(spec, engine: str, session) -> tuple[float, float]:
    from lrkit.core.cache import ResultCache
    from lrkit.runs.grid import run_grid

    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        result = run_grid(spec, session=session, engine=engine, cache=ResultCache(cache), progress=False)
        wall = time.perf_counter() - start
    if result.failed or len(result.computed) != len(spec.cells()):
        raise RuntimeError(f"the {engine} grid did not train every cell: {[str(f) for f in result.failed]}")
    return wall, statistics.median(r.seconds for r in result.runs.values())


def main(argv: list[str] | None = None) -> None:
    import lrkit

    parser = argparse.ArgumentParser(prog="python -m bench grid", description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--budget", type=int, default=24_000, help="training examples per cell")
    args = parser.parse_args(argv)
    session = lrkit.setup("cpu", style=False, device="cpu")
    spec = _spec(args.budget)
    times: dict[str, list[float]] = {"local": [], "ray": []}
    per_cell: dict[str, list[float]] = {"local": [], "ray": []}
    for r in range(args.rounds):
        for engine in (("local", "ray") if r % 2 == 0 else ("ray", "local")):
            wall, cell = _timed(spec, engine, session)
            times[engine].append(wall)
            per_cell[engine].append(cell)
    local, ray = (statistics.median(times[e]) for e in ("local", "ray"))
    cell = statistics.median(per_cell["local"])
    print(f"grid of {len(spec.cells())} cells, {args.budget:,} examples each, {args.rounds} rounds, "
          f"{os.cpu_count()} CPUs, torch threads in this process: {__import__('torch').get_num_threads()}")
    print(f"  in-process: {local:6.1f} s   ({cell:.1f} s a cell)")
    print(f"  local Ray:  {ray:6.1f} s   (start-up and shut-down included; "
          f"{statistics.median(per_cell['ray']):.1f} s a cell in its workers)")
    verdict = "meets" if ray / local <= GOAL else "misses"
    print(f"  Ray / in-process: {ray / local:.2f}x ({verdict} the goal of at most {GOAL}x"
          f"{'' if cell >= 5 else '; cells under 5 s, where the goal does not apply'})")
