"""The dry run's step cap ($LRKIT_STEP_CAP): fits, range tests and full-batch runs cut short, and the
count of what the uncapped run would have trained on."""
import pytest
import torch

import lrkit
from lrkit.core import dry_run
from lrkit.core.profiles import resolve_profile
from lrkit.methods.curvature import full_batch_gd
from lrkit.methods.range_test import fastai_lr_find, find_lr
from lrkit.runs.learners import build_learner
from lrkit.runs.training import fit_and_record


@pytest.fixture
def capped(monkeypatch):
    monkeypatch.setenv("LRKIT_STEP_CAP", "3")
    monkeypatch.setenv("LRKIT_PROFILE", "ci")
    return lrkit.setup(device="cpu", style=False)


def test_a_capped_fit_trains_and_validates_n_batches_per_epoch(capped):
    learn = build_learner(capped, dataset="digits", model="tiny_cnn", bs=16, seed=0)
    n_train = len(learn.dls.train.dataset)
    before, steps = dry_run.uncapped_examples(), dry_run.uncapped_steps()
    result = fit_and_record(learn, 2, 1e-3, method="one_cycle", progress=False)
    assert len(result.lrs) == 6 and len(result.accuracy) == 2  # 3 batches an epoch, each epoch validated
    assert all(0 <= a <= 1 for a in result.accuracy)
    assert dry_run.uncapped_examples() - before == 2 * n_train  # two whole epochs, uncapped
    assert dry_run.uncapped_steps() - steps == 2 * len(learn.dls.train)


def test_a_capped_range_test_keeps_enough_iterations_for_its_suggestions(capped):
    learn = build_learner(capped, dataset="digits", model="tiny_cnn", bs=16, seed=0)
    before = dry_run.uncapped_examples()
    result = find_lr(learn, num_it=100, progress=False)
    assert result.settings.num_it == dry_run.RANGE_TEST_FLOOR and len(result.lrs) <= dry_run.RANGE_TEST_FLOOR
    assert result.lrs[-1] > 1  # the whole LR range, in fewer steps
    assert dry_run.uncapped_examples() - before == 100 * 16
    # fastai's own lr_find: through lrkit's wrapper, with its suggestions; called directly, cut by the callback
    theirs = fastai_lr_find(learn, num_it=200)
    assert theirs.settings.num_it == dry_run.RANGE_TEST_FLOOR and theirs.suggestions["valley"] is not None
    with learn.no_logging(), learn.no_bar():
        learn.lr_find(num_it=100, show_plot=False)
    assert len(learn.recorder.lrs) <= dry_run.RANGE_TEST_FLOOR and learn.recorder.lrs[-1] > 1e-1  # the whole range
    assert dry_run.uncapped_examples() - before == (100 + 200 + 100) * 16


def test_a_capped_full_batch_run_takes_n_steps(capped):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    x, y = torch.randn(32, 1, 2, 2), torch.randint(0, 2, (32,))
    before = dry_run.uncapped_examples()
    run = full_batch_gd(model, torch.nn.functional.cross_entropy, x, y, lr=0.1, steps=50, every=10, progress=False)
    assert len(run.loss) == 3
    assert dry_run.uncapped_examples() - before == 50 * 32


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5"])
def test_a_bad_cap_is_refused_with_what_to_do(monkeypatch, bad):
    monkeypatch.setenv("LRKIT_STEP_CAP", bad)
    with pytest.raises(ValueError, match="positive whole number.*unset it"):
        resolve_profile("ci")


def test_without_the_variable_nothing_is_capped(monkeypatch):
    monkeypatch.delenv("LRKIT_STEP_CAP", raising=False)
    assert resolve_profile("gpu").step_cap is None
    monkeypatch.setenv("LRKIT_STEP_CAP", "2")
    assert resolve_profile("gpu").step_cap == 2 and resolve_profile("gpu").n_train == 60000


def test_a_capped_sharpness_measurement_takes_a_few_iterations(capped):
    from lrkit.core.dry_run import MEASUREMENT_FLOOR, capped_iterations

    assert capped_iterations(100) == max(3, MEASUREMENT_FLOOR) and capped_iterations(2) == 2


def test_a_capped_range_test_tracks_the_sharpness_once(capped):
    from torch import nn

    from lrkit.methods.curvature import SharpnessTracker

    learn = build_learner(capped, dataset="digits", model="tiny_cnn", bs=16, seed=0)
    data = learn.dls.train.dataset
    tracker = SharpnessTracker(data.x[:64], data.y[:64], nn.functional.cross_entropy, every=2)
    learn.add_cb(tracker)
    find_lr(learn, num_it=100, progress=False)  # capped to RANGE_TEST_FLOOR iterations
    assert len(tracker.sharpness) == 1 and tracker.sharpness[0] > 0 and len(tracker.lrs) == 1


def test_a_capped_grid_trains_one_cell_per_optimizer_and_batch_size(capped, tmp_path):
    from lrkit.core.cache import ResultCache
    from lrkit.runs.grid import GridSpec, run_grid

    spec = GridSpec(batch_sizes=(64, 16), lrs=(0.01, 0.1), seeds=(0, 1), optimizers=("sgd",), budget_examples=1200,
                    eval_every=600, n_train=1200, n_valid=300)
    before = dry_run.uncapped_examples()
    result = run_grid(spec, session=capped, cache=ResultCache(tmp_path), progress=False)
    assert sorted((c.optimizer, c.batch_size) for c in result.computed) == [("sgd", 16), ("sgd", 64)]
    assert len(result.missing) == len(spec.cells()) - 2 and not result.failed
    # the left-out cells count at their budget; the trained ones at the data of their epochs: 1,200
    # examples are 2 epochs of 18 full batches of 64, and 1 epoch of 75 batches of 16
    assert dry_run.uncapped_examples() - before == 6 * 1200 + (2 + 1) * 1200
