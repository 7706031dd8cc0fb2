"""How fast the schedule panel redraws when a slider moves (goal: under 100 ms per change).

Each change is timed up to a rendered PNG, what the browser then receives; beside it, in the
same run, a bare matplotlib figure with one line rendered the same way, as a floor.
"""
from __future__ import annotations

import io
import statistics
import time
import warnings

import numpy as np


def _render(fig) -> None:
    fig.savefig(io.BytesIO(), format="png", dpi=fig.dpi)


def main(rounds: int = 20) -> float:
    warnings.filterwarnings("ignore")
    from matplotlib.figure import Figure

    from lrkit.widgets import SchedulePanel

    panel = SchedulePanel(n_epoch=5, n_iter_per_epoch=100, lr_max=1e-2)
    panel_times, floor_times = [], []
    values = np.geomspace(1e-3, 1e-1, rounds)
    for v in values:
        t0 = time.perf_counter()
        panel.lr_max.value = float(v)  # observe -> redraw
        _render(panel.figure)
        panel_times.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        fig = Figure(figsize=(12, 3.6), layout="constrained")
        fig.add_subplot().plot(np.arange(500), np.full(500, v))
        _render(fig)
        floor_times.append(time.perf_counter() - t0)
    p, f = statistics.median(panel_times), statistics.median(floor_times)
    print(f"schedule panel: {rounds} slider changes, 500-iteration 1cycle schedule")
    print(f"  panel redraw + PNG          {p * 1000:7.1f} ms (median)   goal: under 100 ms")
    print(f"  bare one-line figure + PNG  {f * 1000:7.1f} ms (median)   panel / bare = {p / f:.2f}x")
    return p
