import json

import numpy as np
import pytest
import torch
from torch import nn

from lrkit import setup
from lrkit.core.cache import CorruptCacheWarning, ResultCache, settings_key
from lrkit.cli import main as cli
from lrkit.runs.learners import sweep_builder
from lrkit.methods.range_test import FinderSettings
from lrkit.methods.curve_stats import curve_noise, divergence_lr
from lrkit.runs.sweeps import SweepSpec, run_sweep


def test_cache_round_trip_and_key_order(tmp_path):
    cache = ResultCache(tmp_path)
    assert cache.get("finder", {"a": 1, "b": [1, 2]}) is None
    cache.put("finder", {"a": 1, "b": [1, 2]}, {"x": [1.5, float("nan")]})
    got = cache.get("finder", {"b": [1, 2], "a": 1})
    assert got["x"][0] == 1.5 and np.isnan(got["x"][1])
    assert settings_key({"a": 1, "b": 2}) == settings_key({"b": 2, "a": 1}) != settings_key({"a": 2, "b": 2})


def test_corrupt_file_is_reported_and_treated_as_missing(tmp_path):
    cache = ResultCache(tmp_path)
    path = cache.put("finder", {"a": 1}, {"x": 1})
    path.write_text('{"schema": 1, "settings": {"a": 1}, "payl')  # cut short, as by a crash of old code
    with pytest.warns(CorruptCacheWarning, match=str(path.name)):
        assert cache.get("finder", {"a": 1}) is None
    path.write_text(json.dumps({"schema": 1, "settings": {"a": 2}, "payload": 5}))  # a file under the wrong name
    with pytest.warns(CorruptCacheWarning, match="do not match"):
        assert cache.get("finder", {"a": 1}) is None


def test_a_stored_result_of_an_older_shape_is_reported_and_recomputed(tmp_path):
    from lrkit.core.cache import cached_result
    from lrkit.runs.training import FitResult

    cache, settings = ResultCache(tmp_path), {"experiment": "shape"}
    cache.put("FitResult", settings, {"label": "old", "lr": 0.1, "final": 0.9})  # another version's fields
    fresh = FitResult("new", 0.1, "fit", (1.0,), (1.0,), (0.5,), (1.0,), False)
    with pytest.warns(CorruptCacheWarning, match="lacks .*'accuracy'.* unknown fields \\['final'\\]"):
        got = cached_result(FitResult, settings, lambda: fresh, cache)
    assert got == fresh
    assert cached_result(FitResult, settings, lambda: pytest.fail("recomputed twice"), cache) == fresh


def test_a_cache_folder_that_cannot_be_used_is_reported_and_the_result_still_computed(tmp_path):
    from lrkit.core.cache import cached_json

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    cache = ResultCache(blocked)
    with pytest.warns(CorruptCacheWarning) as caught:
        assert cached_json("kind", {"a": 1}, lambda: {"value": 42}, cache) == {"value": 42}
    assert any("Could not store the result" in str(w.message) for w in caught)
    with pytest.warns(CorruptCacheWarning, match="Ignoring unreadable cache file"):
        (tmp_path / "kind").mkdir()
        unreadable = ResultCache(tmp_path)
        unreadable.path("kind", {"a": 1}).mkdir()  # a folder where the file should be: reading it fails
        assert unreadable.get("kind", {"a": 1}) is None


def test_failed_write_leaves_the_old_file_and_no_debris(tmp_path):
    cache = ResultCache(tmp_path)
    path = cache.put("finder", {"a": 1}, {"x": 1})
    with pytest.raises(TypeError):
        cache.put("finder", {"a": 1}, {"x": object()})  # fails half-way through json.dump
    assert cache.get("finder", {"a": 1}) == {"x": 1}
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


SPEC = SweepSpec(dataset="digits", model="tiny_cnn", opt="sgd", n_train=320, pretrain_epochs=1, pretrain_bs=32,
                 pretrain_lr=1e-2, finder=FinderSettings(num_it=25))


@pytest.fixture(scope="module")
def build():
    return sweep_builder(setup("ci", seed=0, style=False))


def test_sweep_caches_every_cell_and_loads_them_back(tmp_path, build):
    cache = ResultCache(tmp_path)
    first = run_sweep(SPEC, [8, 32], [0, 1], build=build, cache=cache, progress=False)
    assert sorted(first.computed) == [(8, 0), (8, 1), (32, 0), (32, 1)] and not first.skipped
    assert first.cells[(8, 0)].batch_size == 8 and first.cells[(32, 1)].seed == 1
    again = run_sweep(SPEC, [8, 32], [0, 1], build=build, cache=cache, progress=False)
    assert again.computed == () and again.cells == first.cells
    # results depend on the cell: the batch size changes the curve
    assert first.cells[(8, 0)].losses != first.cells[(32, 0)].losses


def test_seed_runs_are_cached_under_the_key_and_loaded_back(tmp_path):
    from lrkit.runs.learners import build_learner
    from lrkit.runs.seeds import find_lr_seeds

    session, built = setup("ci", seed=0, style=False), []

    def build_seed(seed):
        built.append(seed)
        return build_learner(session, dataset="digits", model="tiny_cnn", bs=32, seed=seed)

    cache, key = ResultCache(tmp_path), {"experiment": "seeds", "num_it": 20}
    first = find_lr_seeds(build_seed, [0, 1], num_it=20, cache_key=key, cache=cache)
    assert built == [0, 1] and [r.label for r in first.results] == ["seed 0", "seed 1"]
    again = find_lr_seeds(build_seed, [0, 1], num_it=20, cache_key=key, cache=cache)
    assert built == [0, 1] and again == first  # loaded, nothing built
    find_lr_seeds(build_seed, [2], num_it=20, cache_key=key, cache=cache)
    assert built == [0, 1, 2]  # a seed the cache lacks is run


def test_interrupted_sweep_resumes_with_the_missing_cells_only(tmp_path, build):
    cache, calls = ResultCache(tmp_path), []

    def interrupting_build(spec, bs, seed):
        calls.append((bs, seed))
        if len(calls) == 3:  # cell (8, 0), its pretraining, then cell (32, 0)
            raise KeyboardInterrupt  # Ctrl-C during the second cell
        return build(spec, bs, seed)

    with pytest.raises(KeyboardInterrupt):
        run_sweep(SPEC, [8, 32], [0], build=interrupting_build, cache=cache, progress=False)
    resumed = run_sweep(SPEC, [8, 32], [0], build=build, cache=cache, progress=False)
    assert resumed.computed == ((32, 0),) and set(resumed.cells) == {(8, 0), (32, 0)}


def test_corrupt_cell_is_recomputed(tmp_path, build):
    cache = ResultCache(tmp_path)
    run_sweep(SPEC, [8], [0], build=build, cache=cache, progress=False)
    cache.path("finder", SPEC.cell_settings(8, 0)).write_text("not json")
    with pytest.warns(CorruptCacheWarning):
        again = run_sweep(SPEC, [8], [0], build=build, cache=cache, progress=False)
    assert again.computed == ((8, 0),)


class _Greedy(nn.Module):
    """A real model that, like a big network at a big batch, asks for more memory than there is."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        if len(x) >= 32:
            torch.empty(2**50)  # raises the allocator's real out-of-memory error
        return self.inner(x)


def test_out_of_memory_cell_is_reported_and_skipped(tmp_path, build):
    def greedy_build(spec, bs, seed):
        learn = build(spec, bs, seed)
        learn.model = _Greedy(learn.model)
        return learn

    spec = SweepSpec(**{**SPEC.__dict__, "pretrain_epochs": 0})
    result = run_sweep(spec, [8, 32], [0], build=greedy_build, cache=ResultCache(tmp_path), progress=False)
    assert set(result.cells) == {(8, 0)}
    assert "out of memory at batch size 32" in result.skipped[(32, 0)]


def test_other_errors_are_not_swallowed(tmp_path, build):
    def broken(spec, bs, seed):
        raise ValueError("a bug, not a memory problem")

    with pytest.raises(ValueError, match="a bug"):
        run_sweep(SPEC, [8], [0], build=broken, cache=ResultCache(tmp_path), progress=False)


def test_curve_statistics():
    from lrkit.methods.range_test import FinderResult

    def curve(losses, raw):
        return FinderResult(lrs=tuple(10.0 ** -k for k in range(len(losses), 0, -1)), losses=losses, raw_losses=raw,
                            stop_reason="diverged", settings=FinderSettings(num_it=6))

    r = curve((1.0, 0.8, 1.5, 3.0), (1.0, 1.2, 0.8, 1.1))
    assert divergence_lr(r) == r.lrs[3]  # 3.0 > 2 x the starting level 1.0; 1.5 is not
    assert divergence_lr(r, factor=1.4) == r.lrs[2]
    # a lucky low point does not set the bar: the starting level is a median of raw losses
    lucky = curve((1.0, 1.0, 0.3, 0.9, 1.9, 2.5, 2.6, 2.7), (1.0,) * 8)
    assert divergence_lr(lucky) == lucky.lrs[5]
    assert divergence_lr(curve((1.0,) * 8, (1.0,) * 8)) is None
    assert curve_noise(r, frac=1.0) == pytest.approx(np.std([0.2, -0.4, 0.3]) / np.sqrt(2))


def test_cli_sweep_runs_headless_and_reuses_the_cache(tmp_path, capsys):
    args = ["sweep", "--profile", "ci", "--dataset", "digits", "--batch-sizes", "8", "16", "--seeds", "0",
            "--num-it", "20", "--pretrain-epochs", "0", "--n-train", "200", "--cache", str(tmp_path)]
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "2 cells computed, 0 from the cache" in out
    assert len(list((tmp_path / "finder").glob("*.json"))) == 2
    assert cli(args) == 0
    assert "0 cells computed, 2 from the cache" in capsys.readouterr().out


def test_cached_fit_results_are_computed_once(tmp_path, monkeypatch, build):
    from lrkit.runs.compare import run_conditions
    from lrkit.runs.training import FitResult, fit_and_record

    monkeypatch.setenv("LRKIT_CACHE", str(tmp_path))
    calls = []

    def train(seed, label, lr):
        calls.append((label, seed))
        return fit_and_record(build(SPEC, 32, seed), 1, lr, label=label, progress=False)

    key = {"experiment": "test", "profile": "ci"}
    first = run_conditions(train, {"a": {"lr": 1e-3}, "b": {"lr": 1e-2}}, [0, 1], progress=False, cache_key=key)
    again = run_conditions(train, {"a": {"lr": 1e-3}, "b": {"lr": 1e-2}}, [0, 1], progress=False, cache_key=key)
    assert len(calls) == 4 and again == first and isinstance(again["a"][0], FitResult)
    run_conditions(train, {"a": {"lr": 3e-3}}, [0], progress=False, cache_key=key)  # other settings: computed
    assert len(calls) == 5


def test_cached_json_computes_once(tmp_path):
    from lrkit.core.cache import cached_json

    cache, calls = ResultCache(tmp_path), []

    def compute():
        calls.append(1)
        return [0.5, 0.75]

    assert cached_json("acc", {"lr": 1e-3}, compute, cache) == [0.5, 0.75]
    assert cached_json("acc", {"lr": 1e-3}, compute, cache) == [0.5, 0.75] and calls == [1]


def test_a_stored_cell_of_an_older_shape_is_reported_and_recomputed(tmp_path, build):
    cache = ResultCache(tmp_path)
    cache.put("finder", SPEC.cell_settings(8, 0), {"lrs": [1e-3], "final": 0.9})  # another version's fields
    with pytest.warns(CorruptCacheWarning, match="Ignoring the stored result"):
        again = run_sweep(SPEC, [8], [0], build=build, cache=cache, progress=False)
    assert again.computed == ((8, 0),) and again.cells[(8, 0)].batch_size == 8
    assert run_sweep(SPEC, [8], [0], build=build, cache=cache, progress=False).computed == ()  # stored now


def test_a_sweep_into_a_cache_that_cannot_be_written_warns_and_keeps_its_results(tmp_path, build):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    with pytest.warns(CorruptCacheWarning, match="Could not store the result"):
        sweep = run_sweep(SPEC, [8], [0], build=build, cache=ResultCache(blocked), progress=False)
    assert sweep.computed == ((8, 0),) and sweep.cells[(8, 0)].lrs


def test_lr_max_is_read_from_the_dip_or_else_from_the_take_off():
    from lrkit.methods.curve_stats import pick_lr_max
    from lrkit.methods.range_test import FinderResult

    lrs = tuple(10.0 ** (-7 + k / 2) for k in range(20))

    def curve(losses, minimum):
        return FinderResult(lrs=lrs, losses=losses, raw_losses=losses, stop_reason="diverged",
                            settings=FinderSettings(num_it=20), suggestions={"minimum": minimum})

    dips = curve((1.0,) * 3 + (1.0, 0.95, 0.8, 0.6, 0.5, 0.7, 1.5, 2.5) + (3.0,) * 9, minimum=lrs[7] / 10)
    assert pick_lr_max(dips) == lrs[7] / 10  # fell by half: fastai's minimum
    flat = curve((1.0,) * 3 + (0.99, 1.01, 0.98, 1.0, 1.02, 1.3, 2.5) + (3.0,) * 10, minimum=lrs[5] / 10)
    assert pick_lr_max(flat) == lrs[9] / 10  # a 2% dip is noise: a tenth of where the loss took off (2.5 > 2 x 1.0)


def test_a_sweeps_trend_and_slope_are_read_seed_by_seed(tmp_path, build):
    from lrkit.methods.range_test import FinderResult
    from lrkit.runs.sweeps import SweepResult, log_slopes, per_seed, sweep_trend

    def cell(bs, seed, lr):
        return FinderResult(lrs=(lr,), losses=(1.0,), raw_losses=(1.0,), stop_reason="num_it",
                            settings=FinderSettings(), suggestions={"valley": lr}, batch_size=bs, seed=seed)

    cells = {(bs, s): cell(bs, s, 1e-3 * bs * (1 + 0.1 * s)) for bs in (4, 8, 16) for s in (0, 1, 2)}
    cells[(8, 2)] = cell(8, 2, float("nan"))  # a seed without a value everywhere is left out
    sweep = SweepResult(SPEC, cells, {}, ())
    valley = lambda r: r.suggestions["valley"]  # noqa: E731
    assert sorted(per_seed(sweep, valley)) == [0, 1]
    assert log_slopes(sweep, valley) == {0: pytest.approx(1.0), 1: pytest.approx(1.0)}  # LR ~ B
    trend = sweep_trend(sweep, valley, "valley rises with the batch size")
    assert trend.effects == (1.0, 1.0)
