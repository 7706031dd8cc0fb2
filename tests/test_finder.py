"""lrkit's range test against fastai's lr_find, and the promise to leave everything as found."""
import math

import numpy as np
import pytest
import torch
from fastai.callback.schedule import minimum, slide, steep, valley
from fastai.torch_core import set_seed

from lrkit.core.data import dataloaders
from lrkit.methods.range_test import FinderResult, FinderSettings, exp_schedule, find_lr, find_lr_torch
from lrkit.core.models import make_learner, small_cnn, tiny_cnn


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


# --- the range test runs through the Learner's own loop, so its callbacks act ------------------

from fastai.callback.core import Callback  # noqa: E402
from fastai.callback.training import GradientClip  # noqa: E402


class ScaledLoss(Callback):
    """A custom callback that changes the loss the learner trains on and records (after_loss)."""

    def after_loss(self):
        self.learn.loss_grad = self.loss_grad * 3.0
        self.learn.loss = self.loss * 3.0


class PoisonWeights(Callback):
    """Turns every weight into NaN before training step ``at``: the loss is NaN from there on."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def before_batch(self):
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                with torch.no_grad():
                    for p in self.model.parameters():
                        p.fill_(float("nan"))


def _fastai_run(learn, num_it, **kwargs):
    with learn.no_logging():
        sugg = learn.lr_find(num_it=num_it, show_plot=False, suggest_funcs=(valley, slide, minimum, steep), **kwargs)
    return learn.recorder.lrs, [float(l) for l in learn.recorder.losses], sugg


@pytest.mark.parametrize("cbs", [[GradientClip(0.01)], [ScaledLoss()]], ids=["GradientClip", "custom loss"])
def test_callbacks_of_the_learner_act_as_in_fastai_lr_find(workdir, cbs):
    def make():
        learn = build(workdir, "sgd")
        learn.add_cbs([type(cb)(*([0.01] if isinstance(cb, GradientClip) else [])) for cb in cbs])
        return learn

    lrs, losses, sugg = _fastai_run(make(), 60)
    ours = find_lr(make(), num_it=60, progress=False)
    assert ours.lrs == pytest.approx(lrs, rel=1e-12)
    assert ours.losses == pytest.approx(losses, abs=1e-6)
    for name in ("valley", "slide", "minimum", "steep"):
        assert ours.suggestions[name] == pytest.approx(getattr(sugg, name), rel=1e-6), name
    # and the callback really changed the curve: without it the test sees another one
    plain = find_lr(build(workdir, "sgd"), num_it=60, progress=False)
    assert max(abs(a - b) for a, b in zip(plain.losses, ours.losses)) > 1e-3


def test_after_a_nan_the_suggestions_are_those_of_fastais_full_run(workdir):
    def make():
        learn = build(workdir, "sgd")
        learn.add_cb(PoisonWeights(at=70))
        return learn

    lrs, losses, sugg = _fastai_run(make(), 100)
    assert len(losses) == 100 and math.isnan(losses[-1])  # fastai carries on to num_it
    ours = find_lr(make(), num_it=100, progress=False)
    assert ours.stop_reason == "nan" and len(ours.losses) == 70  # we stop at the first NaN
    assert ours.losses[:69] == pytest.approx(losses[:69], abs=1e-6)
    for name in ("valley", "slide", "minimum", "steep"):
        assert ours.suggestions[name] == pytest.approx(getattr(sugg, name), rel=1e-6), name


def test_recorder_history_is_kept(workdir):
    learn = _trained_learner(workdir)
    rec = learn.recorder
    before = (list(rec.lrs), [float(l) for l in rec.losses], [list(v) for v in rec.values])
    find_lr(learn, num_it=20, progress=False)
    assert (rec.lrs, [float(l) for l in rec.losses], [list(v) for v in rec.values]) == before


def test_bn_freeze_keeps_frozen_statistics_during_the_test(workdir):
    """BnFreeze puts the frozen body's batch norm in eval mode at each fit: the range test honours it,
    so the frozen body's running statistics are never updated (they would be without the callback)."""
    from fastai.callback.training import BnFreeze

    seen = {}

    class Spy(Callback):
        order = 61

        def after_batch(self):
            if self.training:
                seen.setdefault("modes", set()).add(self.model[1].training)

    learn = build(workdir, "adam")
    learn.model[1].weight.requires_grad_(False)  # freeze the first batch-norm layer...
    learn.model[1].bias.requires_grad_(False)  # ...as fastai's freeze() does with train_bn=False
    learn.add_cbs([BnFreeze(), Spy()])
    find_lr(learn, num_it=12, progress=False)
    assert seen["modes"] == {False}


def test_a_loader_that_runs_out_gets_a_clear_error():
    model, opt, loader = _torch_setup()
    batches = iter(list(loader)[:5])  # an iterator: it cannot be started again
    with pytest.raises(ValueError, match="ran out after 5 batches, fewer than num_it=40"):
        find_lr_torch(model, opt, torch.nn.functional.cross_entropy, batches, num_it=40, progress=False)
    # a list of batches is started again, as a DataLoader is
    r = find_lr_torch(model, opt, torch.nn.functional.cross_entropy, list(loader)[:5], num_it=12, end_lr=0.1,
                      progress=False)
    assert len(r.lrs) == 12


def test_too_few_iterations_is_not_called_divergence(workdir):
    r = find_lr(build(workdir), num_it=12, progress=False)
    assert r.stop_reason == "num_it" and r.suggestions["slide"] is None
    note = next(n for n in r.notes if "'slide'" in n)
    assert "num_it=12 is too small" in note and "diverged" not in note


def test_valley_without_a_falling_stretch_says_so():
    from lrkit.methods.range_test import result_from_curve

    lrs = exp_schedule(1e-3, 10.0, 40)
    rising = [1.0 + 0.01 * i for i in range(40)]
    r = result_from_curve(lrs, rising, rising, "num_it", FinderSettings(num_it=40))
    assert r.suggestions["valley"] == pytest.approx(lrs[4])  # fastai's fallback: the first usable LR
    assert any("found no stretch of falling loss" in n for n in r.notes), r.notes
    dip = rising[:20] + [0.5] + rising[21:]
    assert not any("falling" in n for n in result_from_curve(lrs, dip, dip, "num_it", FinderSettings(num_it=40)).notes)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: mixed precision is CUDA-only in fastai")
def test_mixed_precision_on_cuda_equals_fastai(tmp_path):
    def make():
        set_seed(0)
        dls = dataloaders("cats_dogs", bs=32, n_train=640, n_valid=64, seed=0, device="cuda")
        return make_learner(dls, small_cnn(2), opt="adam", workdir=tmp_path).to_fp16()

    lrs, losses, sugg = _fastai_run(make(), 60)
    learn = make()
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    ours = find_lr(learn, num_it=60, progress=False)
    assert ours.losses == pytest.approx(losses, abs=1e-5)
    assert ours.suggestions["valley"] == pytest.approx(sugg.valley, rel=1e-6)
    assert next(learn.model.parameters()).is_cuda and torch.cuda.memory_allocated() <= base * 1.05 + 2**20


def test_a_pytorch_optimizer_in_fastais_wrapper_survives_the_test_and_trains_on(workdir):
    """AdamW in fastai's OptimWrapper with several parameter groups (the usual way to use a PyTorch
    optimizer in fastai): trained, range-tested, then frozen, unfrozen and trained again. The
    restored state must stay the defaultdict fastai relies on."""
    import copy
    from collections import defaultdict
    from functools import partial

    from fastai.optimizer import OptimWrapper

    set_seed(0)
    dls = dataloaders("cats_dogs", bs=32, n_train=128, n_valid=32, seed=0, device="cpu")
    net = small_cnn(2)
    splitter = lambda m: [list(m[:4].parameters()), list(m[4:8].parameters()), list(m[8:].parameters())]  # noqa: E731
    learn = make_learner(dls, net, workdir=workdir, splitter=splitter)
    learn.opt_func = partial(OptimWrapper, opt=torch.optim.AdamW)
    with learn.no_logging(), learn.no_bar():
        learn.fit(1, 1e-3)
    assert len(learn.opt.opt.param_groups) == 3
    before = _snapshot(learn.model, copy.deepcopy(learn.opt.state_dict()))
    find_lr(learn, num_it=12, progress=False)
    _assert_identical(before, _snapshot(learn.model, learn.opt.state_dict()))
    # the wrapper's own per-parameter flags (do_wd, force_train) and PyTorch's state stay defaultdicts
    assert isinstance(learn.opt.state, defaultdict) and isinstance(learn.opt.opt.state, defaultdict)
    learn.freeze()
    learn.unfreeze()
    with learn.no_logging(), learn.no_bar():
        learn.fit(1, 1e-3)
    assert all(torch.isfinite(p).all() for p in learn.model.parameters())


def test_range_test_callback_is_a_top_level_class_that_pickles():
    import pickle

    from lrkit.methods.range_test import RangeTest, _Curve

    cb = RangeTest(_Curve(FinderSettings(num_it=10)))
    back = pickle.loads(pickle.dumps(cb))
    assert type(back) is RangeTest and back.curve.schedule == cb.curve.schedule
