"""``python -m bench [finder|widgets]``: run the benchmarks (both by default)."""
import sys

from . import finder_bench, widget_bench

which = sys.argv[1:] or ["finder", "widgets"]
if "finder" in which:
    finder_bench.main([])
if "widgets" in which:
    widget_bench.main()
