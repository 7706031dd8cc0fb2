"""How fast the schedule panel (notebook 03) and the quadratic playground (notebook 07) redraw when a
slider moves (goal: under 100 ms per change).

Each change is timed up to the PNG the panel sends to the browser (a panel renders it itself);
beside it, in the same run, a bare matplotlib figure with one line rendered the same way, as a
floor, and the same figure shown as ``display(fig)`` shows it (with a tight bounding box, which
draws it twice), as panels did before.
"""
from __future__ import annotations

import contextlib
import io
import statistics
import time
import warnings

import numpy as np


def _render(fig) -> None:
    fig.savefig(io.BytesIO(), format="png", dpi=fig.dpi)


def _time_changes(panel, slider, values) -> list[float]:
    times = []
    for v in values:
        t0 = time.perf_counter()
        # outside a notebook the panel's display() would print the figure's repr: not part of the table
        with contextlib.redirect_stdout(io.StringIO()):
            slider.value = float(v)  # observe -> redraw -> PNG
        times.append(time.perf_counter() - t0)
    return times


def main(rounds: int = 20) -> float:
    warnings.filterwarnings("ignore")
    from matplotlib.figure import Figure

    from lrkit.show.quadratic_panel import QuadraticPanel

    from lrkit.show.training_panels import SchedulePanel

    with contextlib.redirect_stdout(io.StringIO()):  # their first draw, displayed
        panel = SchedulePanel(n_epoch=5, n_iter_per_epoch=100, lr_max=1e-2)
        quadratic = QuadraticPanel()
    panel_times, quad_times, floor_times, tight_times = [], [], [], []
    values = np.geomspace(1e-3, 1e-1, rounds)
    for v in values:
        panel_times += _time_changes(panel, panel.lr_max, [v])
        quad_times += _time_changes(quadratic, quadratic.lr, [v * 2])

        t0 = time.perf_counter()
        fig = Figure(figsize=(12, 3.6), layout="constrained")
        fig.add_subplot().plot(np.arange(500), np.full(500, v))
        _render(fig)
        floor_times.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        quadratic.figure.savefig(io.BytesIO(), format="png", bbox_inches="tight")  # how display(fig) renders
        tight_times.append(time.perf_counter() - t0)
    p, q, f, t = (statistics.median(x) for x in (panel_times, quad_times, floor_times, tight_times))
    print(f"panels: {rounds} slider changes each, interleaved")
    print(f"  schedule panel (500-iteration 1cycle) + PNG  {p * 1000:7.1f} ms (median)   goal: under 100 ms")
    print(f"  quadratic playground (40 steps) + PNG        {q * 1000:7.1f} ms (median)   goal: under 100 ms")
    print(f"  bare one-line figure + PNG                   {f * 1000:7.1f} ms (median)   "
          f"schedule / bare = {p / f:.2f}x, quadratic / bare = {q / f:.2f}x")
    print(f"  the playground's figure as display(fig) renders it (tight box): {t * 1000:.1f} ms, "
          f"{t / q:.2f}x the panel's own")
    return p
