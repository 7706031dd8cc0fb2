"""``python -m bench [finder|widgets|grid|layout]``: run the benchmarks (all by default)."""
import sys

from . import finder_bench, grid_bench, layout_bench, widget_bench

which = sys.argv[1:] or ["finder", "widgets", "grid", "layout"]
if "finder" in which:
    finder_bench.main([])
if "widgets" in which:
    widget_bench.main()
if "grid" in which:
    grid_bench.main([])
if "layout" in which:
    layout_bench.main()
