"""Schedules against what fastai records during training and what PyTorch's schedulers set."""
import pytest
import torch
from fastai.torch_core import set_seed

from lrkit.core.data import dataloaders
from lrkit.core.models import make_learner, tiny_cnn
from lrkit.methods.schedules import combine, constant, flat_cos, one_cycle, one_cycle_shape, sample, sched_cos, triangular

N_EPOCH = 2


@pytest.fixture
def learn(workdir):
    set_seed(0)
    dls = dataloaders("digits", bs=32, n_train=320, n_valid=64, seed=0, device="cpu")
    return make_learner(dls, tiny_cnn(10), opt="sgd", workdir=workdir)


def _fit(learn, method, *args, **kwargs):
    with learn.no_logging(), learn.no_bar():
        getattr(learn, method)(*args, **kwargs)
    return learn.recorder.hps, len(learn.dls.train)


def test_one_cycle_equals_fastai_recorder(learn):
    hps, n = _fit(learn, "fit_one_cycle", N_EPOCH, 3e-2, div=20, div_final=1e4, pct_start=0.3)
    lr, mom = one_cycle(3e-2, div=20, div_final=1e4, pct_start=0.3)
    assert sample(lr, N_EPOCH * n) == pytest.approx(hps["lr"], rel=1e-9)
    assert sample(mom, N_EPOCH * n) == pytest.approx(hps["mom"], rel=1e-9)
    assert max(hps["mom"]) == pytest.approx(0.95) and min(hps["mom"]) == pytest.approx(0.85, abs=1e-3)
    shape = one_cycle_shape(N_EPOCH, n, 3e-2, div=20, div_final=1e4, pct_start=0.3)
    assert shape.lrs == pytest.approx(hps["lr"], rel=1e-9)


def test_momentum_moves_opposite_to_the_lr():
    lr, mom = one_cycle(1e-2)
    lrs, moms = sample(lr, 200), sample(mom, 200)
    peak = max(range(200), key=lrs.__getitem__)
    assert peak == min(range(200), key=moms.__getitem__) == 50  # pct_start 0.25 of 200
    assert lrs[0] == pytest.approx(1e-2 / 25) and lrs[-1] < 1e-2 / 1e3  # heads for lr_max / 1e5


def test_flat_cos_equals_fastai_recorder(learn):
    hps, n = _fit(learn, "fit_flat_cos", N_EPOCH, 1e-2, pct_start=0.5)
    assert sample(flat_cos(1e-2, pct_start=0.5), N_EPOCH * n) == pytest.approx(hps["lr"], rel=1e-9)


def _torch_positions(total_steps, pct_start):
    """Where PyTorch's OneCycleLR samples the curve: each phase from its first to its last step."""
    end_up = float(pct_start * total_steps) - 1
    for step in range(total_steps):
        if step <= end_up:
            yield pct_start * step / end_up
        else:
            yield pct_start + (1 - pct_start) * (step - end_up) / (total_steps - 1 - end_up)


@pytest.mark.parametrize("pct_start,div,div_final", [(0.25, 25.0, 1e5), (0.3, 10.0, 1e3)])
def test_one_cycle_is_pytorchs_one_cycle_lr_configured_alike(pct_start, div, div_final):
    total = 120
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    # fastai's div_final divides lr_max; PyTorch's final_div_factor divides the starting LR
    torch_sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.1, total_steps=total, pct_start=pct_start, anneal_strategy="cos", div_factor=div,
        final_div_factor=div_final / div, base_momentum=0.85, max_momentum=0.95)
    torch_lrs, torch_moms = [], []
    for _ in range(total):
        torch_lrs.append(opt.param_groups[0]["lr"])
        torch_moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        torch_sched.step()
    lr, mom = one_cycle(0.1, div=div, div_final=div_final, pct_start=pct_start)
    positions = list(_torch_positions(total, pct_start))
    assert [lr(p) for p in positions] == pytest.approx(torch_lrs, rel=1e-5)
    assert [mom(p) for p in positions] == pytest.approx(torch_moms, rel=1e-6)
    # the same curve sampled fastai's way stops one step short of the end
    assert sample(lr, total)[-1] > torch_lrs[-1]


def test_triangular_equals_pytorchs_cyclic_lr():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    sched = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=1e-3, max_lr=1e-1, step_size_up=10, mode="triangular",
                                              cycle_momentum=False)
    expected = []
    for _ in range(45):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    tri = triangular(1e-3, 1e-1, 10)
    assert [tri(i) for i in range(45)] == pytest.approx(expected, rel=1e-9)


def test_building_blocks():
    assert sched_cos(1.0, 0.0)(0.5) == pytest.approx(0.5)
    assert constant(3e-3)(0.7) == 3e-3
    two = combine([0.5, 0.5], [constant(1.0), constant(2.0)])
    assert (two(0.25), two(0.75), two(0.999)) == (1.0, 2.0, 2.0)


@pytest.mark.parametrize("call,match", [
    (lambda: one_cycle(1e-2, pct_start=1.0), "pct_start strictly between 0 and 1, got 1.0"),
    (lambda: one_cycle(-1.0), "positive lr_max"),
    (lambda: combine([0.5, 0.4], [constant(1), constant(2)]), "summing to 1"),
    (lambda: triangular(1e-3, 1e-2, 0), "positive integer step_size, got 0"),
    (lambda: sample(constant(1), 0), "positive number of iterations, got 0"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
