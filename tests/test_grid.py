"""The ground-truth grid: real trainings to a target, in this process and on a real local Ray instance."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lrkit.core.cache import ResultCache
from lrkit.runs.grid import CellRun, GridCell, GridSpec, run_grid

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(batch_sizes=(64, 16), lrs=(0.02, 0.1), seeds=(0,), optimizers=("sgd",), budget_examples=1800,
            eval_every=600, n_train=1200, n_valid=300, stop_at=0.65)


@pytest.fixture(scope="module")
def session():
    import lrkit

    return lrkit.setup("ci", style=False, device="cpu")


@pytest.fixture(scope="module")
def local_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("local")


@pytest.fixture(scope="module")
def local_grid(session, local_cache):
    return run_grid(GridSpec(**TINY), session=session, cache=ResultCache(local_cache), progress=False)


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray", reason="Ray is part of the environment make builds")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_every_cell_trains_to_its_target_or_its_budget(local_grid):
    spec = local_grid.spec
    assert sorted(local_grid.runs) == sorted(spec.cells()) and not local_grid.failed
    assert len(local_grid.computed) == len(spec.cells())
    for run in local_grid.runs.values():
        assert run.curve_steps[0] == 0 and list(run.curve_steps) == sorted(set(run.curve_steps))
        last_examples = run.curve_steps[-1] * run.batch_size
        reached = run.steps_to(spec.stop_at) is not None
        # it stops at the first evaluation past the target, else at the budget
        assert reached or last_examples >= spec.budget_examples or run.diverged, run
        if reached:
            assert run.steps_to(spec.stop_at) == run.curve_steps[-1]
            assert run.examples_to(spec.stop_at) == run.curve_steps[-1] * run.batch_size
        assert run.final("accuracy") == run.curve_accuracy[-1] and run.final("valid_loss") == run.curve_valid_loss[-1]
    # at bs 64 an LR of 0.1 learns faster than 0.02: its accuracy after the same examples is higher
    slow, fast = (local_grid.runs[GridCell("sgd", 64, lr, 0)] for lr in (0.02, 0.1))
    assert fast.curve_accuracy[1] > slow.curve_accuracy[1]


def test_any_target_up_to_the_stop_is_read_from_the_same_curve(local_grid):
    for run in local_grid.runs.values():
        best = max(run.curve_accuracy)
        assert run.steps_to(best) == run.curve_steps[run.curve_accuracy.index(best)]
        assert run.steps_to(best + 1e-6) is None
        lowest = min(run.curve_valid_loss)
        assert run.steps_to(lowest, "valid_loss") == run.curve_steps[run.curve_valid_loss.index(lowest)]
        steps = [run.steps_to(t) for t in (0.2, 0.4, best)]  # a lower target is reached no later
        assert all(s is not None for s in steps) and steps == sorted(steps), steps


def test_the_cache_holds_each_cell_under_every_input(local_grid, local_cache, session):
    again = run_grid(local_grid.spec, session=session, cache=ResultCache(local_cache), progress=False)
    assert again.computed == () and again.runs == local_grid.runs
    other = GridSpec(**{**TINY, "budget_examples": 2400})  # another budget is another cell
    assert run_grid(other, cache=ResultCache(local_cache), compute=False).missing == tuple(other.cells())


def test_an_interrupted_grid_resumes_with_only_the_missing_cells(session, tmp_path):
    spec = GridSpec(**TINY)
    cache = ResultCache(tmp_path)

    def stop(_run):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_grid(spec, session=session, cache=cache, progress=False, on_result=stop)
    first = run_grid(spec, cache=cache, compute=False)
    assert len(first.runs) == 1 and len(first.missing) == len(spec.cells()) - 1
    resumed = run_grid(spec, session=session, cache=cache, progress=False)
    assert sorted(resumed.computed) == sorted(first.missing)
    assert sorted(resumed.runs) == sorted(spec.cells())


def test_ray_cells_equal_the_in_process_run_number_for_number(ray_instance, local_grid, tmp_path):
    on_ray = run_grid(local_grid.spec, engine="ray", cache=ResultCache(tmp_path), progress=False)
    assert not on_ray.failed and sorted(on_ray.computed) == sorted(local_grid.spec.cells())
    for cell, run in local_grid.runs.items():
        other = on_ray.runs[cell]
        assert (other.curve_steps, other.curve_accuracy, other.curve_valid_loss, other.diverged) == \
               (run.curve_steps, run.curve_accuracy, run.curve_valid_loss, run.diverged), cell
    # written into the cache as they arrived: a second call loads them all
    assert run_grid(local_grid.spec, cache=ResultCache(tmp_path), compute=False).missing == ()


def test_a_cell_that_raises_in_a_ray_worker_is_reported_and_the_others_are_cached(ray_instance, tmp_path):
    spec = GridSpec(**{**TINY, "batch_sizes": (64, 4096), "lrs": (0.1,)})  # 4096: more than the 1,200 images
    result = run_grid(spec, engine="ray", cache=ResultCache(tmp_path), progress=False)
    assert [f.cell for f in result.failed] == [GridCell("sgd", 4096, 0.1, 0)]
    message = str(result.failed[0])
    assert "batch size 4096" in message and "lr 0.1" in message and "seed 0" in message
    assert "at most the 1200 training images" in message
    loaded = run_grid(spec, cache=ResultCache(tmp_path), compute=False)
    assert list(loaded.runs) == [GridCell("sgd", 64, 0.1, 0)] and loaded.missing == (GridCell("sgd", 4096, 0.1, 0),)


@pytest.mark.parametrize("bad, message", [
    (dict(batch_sizes=(64, 0)), "positive whole batch sizes"),
    (dict(lrs=(0.1, float("nan"))), "positive finite LRs"),
    (dict(optimizers=("lamb",)), "Unknown optimizer"),
    (dict(seeds=[0, 1]), "seeds as a non-empty tuple"),
    (dict(eval_every=5000), "at most budget_examples"),
    (dict(metric="f1"), "'accuracy' or 'valid_loss'"),
])
def test_a_grid_spec_says_what_it_expected(bad, message):
    with pytest.raises(ValueError, match=message):
        GridSpec(**{**TINY, **bad})


def test_a_cell_round_trips_through_json(local_grid):
    for run in local_grid.runs.values():
        assert CellRun.from_dict(run.to_dict()) == run


def test_the_command_line_runs_a_grid_into_the_cache(tmp_path):
    args = [sys.executable, "-m", "lrkit", "grid", "--profile", "ci", "--batch-sizes", "64", "--lrs", "0.1",
            "--seeds", "0", "--optimizers", "sgd", "--cache", str(tmp_path)]
    first = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "1 cells trained, 0 from the cache, 0 failed" in first.stdout
    second = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "0 cells trained, 1 from the cache, 0 failed" in second.stdout
    bad = subprocess.run([*args[:3], "--engine", "spark"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "invalid choice: 'spark'" in bad.stderr


def test_the_grid_panel_redraws_from_the_stored_grid(local_grid):
    from lrkit.show.grid_panel import GridPanel

    panel = GridPanel(local_grid, targets=[0.4, 0.5, local_grid.spec.stop_at])
    first, status = panel.figure, panel.status.value
    assert bytes(panel.picture.value).startswith(b"\x89PNG") and "reached by" in status
    panel.target.value = 0.4  # redrawn from the stored curves, for the new target
    assert panel.figure is not first and "accuracy 0.4:" in panel.status.value
    assert len(panel.figure.axes) == 2 and panel.figure.axes[0].get_ylabel().startswith("best LR")
    with pytest.raises(ValueError, match="targets the cells trained to"):
        GridPanel(local_grid, targets=[0.99])


def test_the_front_and_the_slopes_are_read_back_from_known_numbers():
    from lrkit.runs.grid import best_lr_slopes, critical_batch_size, readings_against_best

    sizes = [16, 64, 256, 1024]
    s_min, b_crit, bend = critical_batch_size(sizes, [300 * (1 + 100 / b) for b in sizes])
    assert abs(s_min - 300) < 1e-3 and abs(b_crit - 100) < 1e-3 and bend
    _, far, bend = critical_batch_size(sizes, [300.0] * 4)  # no bend: steps that never fall
    assert not bend
    # the best LR doubles with every fourfold batch: slope 1/2, the square-root rule
    best = {b: {0: (0.01 * (b / 16) ** 0.5, 100), 1: None} for b in sizes}
    assert best_lr_slopes(best) == pytest.approx({0: 0.5})
    table = readings_against_best(best, {"tracks": {b: 0.1 * (b / 16) ** 0.5 for b in sizes},
                                         "flat": {b: 0.1 for b in sizes}})
    assert table["tracks"]["ratio moves by (highest / lowest)"] == pytest.approx(1.0)
    assert table["flat"]["ratio moves by (highest / lowest)"] == pytest.approx(8.0)
    assert table["tracks"]["reading / best LR, bs 16"] == pytest.approx(10.0)


def test_how_the_readings_move_is_said_also_when_the_target_was_never_reached():
    from lrkit.runs.grid import how_readings_move

    sizes = [16, 64, 256]
    best = {b: {0: (0.01 * b / 16, 100)} for b in sizes}  # the linear rule
    lines = how_readings_move(best, {"tracks": {b: 0.1 * b / 16 for b in sizes}, "flat": {b: 0.1 for b in sizes}})
    assert lines[0].startswith("log-log slope against the batch size of the best LR +1.00; of tracks +1.00, flat ")
    assert lines[0].endswith("0.00")  # flat: a slope of zero (printed with the sign of its rounding)
    assert "moves by a factor 16" in lines[1] and lines[1].endswith("moves least, by 1, for tracks")
    never = {b: {0: None} for b in sizes}
    assert how_readings_move(never, {"flat": {b: 0.1 for b in sizes}}) == [
        "the target was reached at 0 batch size(s): too few to compare the readings with"]
