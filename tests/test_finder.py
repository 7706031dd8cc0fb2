"""lrkit's range test against fastai's lr_find, and the promise to leave everything as found."""
import math

import numpy as np
import pytest
import torch
from fastai.callback.schedule import minimum, slide, steep, valley
from fastai.torch_core import set_seed

from lrkit.data import dataloaders
from lrkit.finder import FinderResult, FinderSettings, exp_schedule, find_lr, find_lr_torch
from lrkit.models import make_learner, small_cnn, tiny_cnn


def build(workdir, opt="sgd", seed=0, bs=32, model=small_cnn):
    set_seed(seed)
    dls = dataloaders("cats_dogs", bs=bs, n_train=640, n_valid=64, seed=seed, device="cpu")
    return make_learner(dls, model(2), opt=opt, workdir=workdir)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_same_curve_and_suggestions_as_fastai_lr_find(workdir, opt):
    theirs = build(workdir, opt)
    with theirs.no_logging():
        sugg = theirs.lr_find(num_it=60, show_plot=False, suggest_funcs=(valley, slide, minimum, steep))
    ours = find_lr(build(workdir, opt), num_it=60, progress=False)
    assert ours.lrs == pytest.approx(theirs.recorder.lrs, rel=1e-12)
    assert ours.losses == pytest.approx([float(l) for l in theirs.recorder.losses], abs=1e-6)
    for name in ("valley", "slide", "minimum", "steep"):
        assert ours.suggestions[name] == pytest.approx(getattr(sugg, name), rel=1e-6), name


def test_lr_schedule_is_exponential_from_start_to_end():
    lrs = exp_schedule(1e-6, 1.0, 60)
    assert lrs[0] == 1e-6 and len(lrs) == 60
    assert np.allclose(np.diff(np.log(lrs)), math.log(1e6) / 60)


def _snapshot(model, opt_state):
    return ({k: v.clone() for k, v in model.state_dict().items()},
            [None if p.grad is None else p.grad.clone() for p in model.parameters()],
            opt_state)


def _assert_identical(before, after):
    (sd0, g0, o0), (sd1, g1, o1) = before, after
    assert sd0.keys() == sd1.keys()
    for k in sd0:
        assert torch.equal(sd0[k], sd1[k]), k
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(g0, g1))
    _assert_same_tree(o0, o1)


def _assert_same_tree(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same_tree(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same_tree(x, y)
    else:
        assert a == b


def _trained_learner(workdir):
    """A learner with optimizer state worth losing: one short epoch of training first."""
    learn = build(workdir, "adam")
    with learn.no_logging(), learn.no_bar():
        learn.fit(1, 1e-3)
    return learn


class Interrupt:
    """A loss that behaves like the real one until batch ``at``, then acts as Ctrl-C."""

    def __init__(self, loss_func, at):
        self.loss_func, self.at, self.calls = loss_func, at, 0

    def __call__(self, *args):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.loss_func(*args)


@pytest.mark.parametrize("case", ["normal", "diverged", "interrupted"])
def test_fastai_learner_state_is_bit_identical_after(workdir, case):
    import copy

    learn = _trained_learner(workdir)
    before = _snapshot(learn.model, copy.deepcopy(learn.opt.state_dict()))
    modes = [m.training for m in learn.model.modules()]
    if case == "normal":
        r = find_lr(learn, num_it=30, progress=False)
        assert r.stop_reason == "num_it"
    elif case == "diverged":
        r = find_lr(learn, start_lr=1.0, end_lr=1e4, num_it=30, progress=False)
        assert r.stop_reason in ("diverged", "nan") and len(r.lrs) < 30
    else:
        loss_func = learn.loss_func
        learn.loss_func = Interrupt(loss_func, at=10)
        with pytest.raises(KeyboardInterrupt):
            find_lr(learn, num_it=30, progress=False)
        learn.loss_func = loss_func
    assert [m.training for m in learn.model.modules()] == modes  # eval after fit's validation
    _assert_identical(before, _snapshot(learn.model, learn.opt.state_dict()))


def test_fastai_learner_without_optimizer_stays_without(workdir):
    learn = build(workdir)
    assert learn.opt is None
    find_lr(learn, num_it=10, progress=False)
    assert learn.opt is None


def _torch_setup(seed=0):
    torch.manual_seed(seed)
    dls = dataloaders("cats_dogs", bs=32, n_train=640, n_valid=64, seed=seed, device="cpu")
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(dls.train.dataset.x, dls.train.dataset.y), batch_size=32, shuffle=True)
    model = tiny_cnn(2).eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    # one real step so the optimizer has momentum buffers to protect
    x, y = next(iter(loader))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    return model, opt, loader


@pytest.mark.parametrize("case", ["normal", "diverged", "interrupted"])
def test_plain_pytorch_state_is_bit_identical_after(case):
    import copy

    model, opt, loader = _torch_setup()
    before = _snapshot(model, copy.deepcopy(opt.state_dict()))
    loss = torch.nn.functional.cross_entropy
    if case == "normal":
        r = find_lr_torch(model, opt, loss, loader, end_lr=0.1, num_it=40, progress=False)
        assert r.stop_reason == "num_it" and r.suggestions["valley"] is not None
        assert r.batch_size == 32
    elif case == "diverged":
        r = find_lr_torch(model, opt, loss, loader, start_lr=10.0, end_lr=1e6, num_it=40, progress=False)
        assert r.stop_reason in ("diverged", "nan")
    else:
        with pytest.raises(KeyboardInterrupt):
            find_lr_torch(model, opt, Interrupt(loss, at=5), loader, num_it=40, progress=False)
    assert not model.training  # it was in eval mode
    _assert_identical(before, _snapshot(model, opt.state_dict()))


def test_plain_pytorch_finder_finds_a_sensible_lr():
    model, opt, loader = _torch_setup()
    r = find_lr_torch(model, opt, torch.nn.functional.cross_entropy, loader, num_it=80, progress=False)
    # the loss falls somewhere along the way, and the valley sits where it was falling
    assert min(r.losses) < r.losses[0] - 0.05
    assert 1e-5 < r.suggestions["valley"] < 1.0


def test_diverged_curve_keeps_a_note_instead_of_crashing(workdir):
    r = find_lr(build(workdir), start_lr=10.0, end_lr=1e5, num_it=100, progress=False)
    assert r.suggestions["slide"] is None
    assert any("needs at least" in n for n in r.notes)


def test_result_round_trips_through_json_also_with_nan():
    s = FinderSettings(num_it=8)
    r = FinderResult(lrs=(1e-3, 1e-2), losses=(0.5, float("nan")), raw_losses=(0.5, float("inf")),
                     stop_reason="nan", settings=s, suggestions={"valley": 1e-3, "slide": None},
                     marks={"valley": (1e-3, 0.5)}, notes=("x",), batch_size=16, seed=3, label="bs 16")
    back = FinderResult.from_json(r.to_json())
    assert back.settings == s and back.suggestions == r.suggestions and back.marks == r.marks
    assert back.lrs == r.lrs and math.isnan(back.losses[1]) and back.raw_losses[1] == float("inf")
    assert (back.batch_size, back.seed, back.label, back.notes) == (16, 3, "bs 16", ("x",))


@pytest.mark.parametrize("kwargs,match", [
    ({"start_lr": 1.0, "end_lr": 1e-3}, "Expected 0 < start_lr < end_lr"),
    ({"num_it": 3}, "num_it of at least 6, got 3"),
    ({"beta": 1.0}, r"beta in \[0, 1\)"),
])
def test_bad_settings_are_refused_before_training(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FinderSettings(**kwargs)


def test_torch_finder_refuses_a_fastai_optimizer(workdir):
    learn = build(workdir)
    learn.create_opt()
    with pytest.raises(TypeError, match="Expected a torch.optim.Optimizer"):
        find_lr_torch(learn.model, learn.opt, learn.loss_func, learn.dls.train)
