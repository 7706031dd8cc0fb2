"""Learning-rate-free and schedule-free optimizers through fastai, and warmup-stable-decay branches,
on real training runs (the digits data: seconds)."""
import math

import pytest
import torch

from lrkit import setup
from lrkit.runs.conditions import train_condition, wsd_branches
from lrkit.runs.learners import build_learner
from lrkit.methods.lr_free import OPTIMIZERS, ScheduleFreeModes, effective_lr, optimizer_func, schedule_free_eval_gap
from lrkit.methods.schedules import wsd
from lrkit.runs.training import fit_and_record


@pytest.fixture(scope="module")
def session():
    return setup("ci", seed=0, style=False)


@pytest.fixture(scope="module")
def build(session):
    def build(seed=0, model="tiny_cnn"):
        return build_learner(session, dataset="digits", model=model, bs=32, opt="adam", seed=seed, n_train=320)
    return build


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains_a_fastai_learner_and_records_its_step(build, optimizer):
    lr = None if optimizer in ("prodigy", "dadapt_adam") else 3e-3
    schedule = "constant" if optimizer == "schedulefree_adamw" else "cosine"
    run = train_condition(build(), optimizer, schedule, 2, lr)
    assert len(run.effective_lrs) == len(run.lrs) == 2 * 10 and not run.diverged
    assert run.accuracy[-1] > 0.3  # it learns: 10 classes, chance is 0.1
    if optimizer in ("prodigy", "dadapt_adam"):
        assert run.lrs[0] == pytest.approx(1.0)  # the multiplier, under a cosine
        assert run.effective_lrs[0] == pytest.approx(1e-6)  # d starts at d0 = 1e-6
        assert max(run.effective_lrs) > 1e-4  # and grows by orders of magnitude


def test_effective_lr_is_d_times_lr_for_prodigy(build):
    learn = build()
    learn.opt_func = optimizer_func("prodigy")
    fit_and_record(learn, 1, 1.0, progress=False)
    group = learn.opt.opt.param_groups[-1]
    assert group["d"] > 1e-6
    assert effective_lr(learn.opt.hypers[-1]) == pytest.approx(group["d"] * group["lr"])
    assert effective_lr({"lr": 0.1}) == 0.1


@pytest.mark.parametrize("args, message", [
    (("prodigy", "cosine", 2, 1e-3), "sets its own step size"),
    (("adam", "cosine", 2, None), "Expected a positive lr_max"),
    (("adam", "cosine", 2, -1.0), "Expected a positive lr_max"),
    (("schedulefree_adamw", "cosine", 2, 1e-3), "replaces the schedule"),
    (("sgdw", "cosine", 2, 1e-3), "Unknown optimizer 'sgdw'"),
    (("adam", "linear", 2, 1e-3), "Unknown schedule 'linear'"),
    (("adam", "cosine", 0, 1e-3), "positive whole number of epochs"),
])
def test_train_condition_refuses_inputs_that_do_not_fit(build, args, message):
    with pytest.raises(ValueError, match=message):
        train_condition(build(), *args)


def test_schedule_free_validates_at_the_averaged_weights_and_ends_in_eval_mode(build):
    learn = build()
    run = train_condition(learn, "schedulefree_adamw", "constant", 2, 3e-3)
    assert learn.opt.opt.param_groups[0]["train_mode"] is False
    with learn.no_bar():
        assert learn.validate()[0] == pytest.approx(run.valid_loss[-1], rel=1e-6)  # the recorded epoch used x
    gap = schedule_free_eval_gap(learn)
    assert gap["optimizer.eval()"]["valid loss"] == pytest.approx(run.valid_loss[-1], rel=1e-6)
    assert gap["optimizer.train()"]["valid loss"] != pytest.approx(run.valid_loss[-1], rel=1e-6)
    assert learn.opt.opt.param_groups[0]["train_mode"] is False  # left in eval mode


def test_schedule_free_recomputes_batch_norm_statistics_at_the_averaged_weights(build):
    learn = build(model="small_cnn")
    learn.opt_func = optimizer_func("schedulefree_adamw")
    fit_and_record(learn, 1, 3e-3, progress=False, cbs=[ScheduleFreeModes(bn_batches=4)])
    bns = [m for m in learn.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(int(m.num_batches_tracked) == 4 for m in bns)  # reset, then 4 batches at x
    assert all(m.momentum == 0.1 for m in bns)  # the layer's own momentum is back
    with pytest.raises(ValueError, match="schedule-free"):
        schedule_free_eval_gap(build())


def test_wsd_schedule_warms_up_holds_and_decays_along_one_minus_sqrt():
    f = wsd(0.1, warmup=4, decay_start=10, decay_len=4)
    assert [f(i) for i in range(4)] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert all(f(i) == 0.1 for i in range(4, 10))
    assert [f(10 + k) for k in range(5)] == pytest.approx([0.1 * (1 - math.sqrt(k / 4)) for k in range(5)])
    later = wsd(0.1, warmup=4, decay_start=30, decay_len=4)
    assert [later(i) for i in range(10)] == [f(i) for i in range(10)]  # the trunk does not know the budget
    with pytest.raises(ValueError, match="warmup <= decay_start"):
        wsd(0.1, warmup=5, decay_start=2, decay_len=4)


def test_wsd_branch_leaves_no_trace_on_the_trunk(build):
    """The full-budget branch of a branched run equals a WSD run without branches, number for number."""
    branched = wsd_branches(build(seed=1), 5, 3e-3, [2, 4], decay_epochs=1)
    plain = train_condition(build(seed=1), "adam", "wsd", 5, 3e-3)
    assert [len(b.accuracy) for b in branched] == [3, 5]
    assert branched[-1].lrs == pytest.approx(plain.lrs, rel=1e-12)
    assert branched[-1].valid_loss == pytest.approx(plain.valid_loss, rel=1e-5)
    assert branched[0].lrs[:20] == branched[-1].lrs[:20]  # a shared trunk, then different decays
    assert branched[0].lrs[25] < 0.5 * 3e-3 and branched[-1].lrs[25] == pytest.approx(3e-3)  # decaying vs flat


@pytest.mark.parametrize("kwargs, message", [
    ({"decay_starts": [], "decay_epochs": 1}, "distinct positive epochs"),
    ({"decay_starts": [2, 2], "decay_epochs": 1}, "distinct positive epochs"),
    ({"decay_starts": [1, 3], "decay_epochs": 1}, "the last branch to end at the budget"),
    ({"decay_starts": [1, 4], "decay_epochs": 0}, "positive whole number of decay epochs"),
    ({"decay_starts": [1, 4], "decay_epochs": 1, "optimizer": "prodigy"}, "follows a schedule"),
])
def test_wsd_branches_refuses_inputs_that_do_not_fit(build, kwargs, message):
    with pytest.raises(ValueError, match=message):
        wsd_branches(build(), 5, 3e-3, **kwargs)


def test_a_decay_inside_the_warm_up_is_refused_before_anything_trains(build):
    learn = build()  # 10 batches an epoch: over 30 epochs the warm-up is 15 iterations, past epoch 1
    weights = [p.detach().clone() for p in learn.model.parameters()]
    with pytest.raises(ValueError, match=r"every decay to start after the warm-up \(15 iterations"):
        wsd_branches(learn, 30, 3e-3, [1, 29], decay_epochs=1)
    assert learn.opt is None and all(torch.equal(w, p) for w, p in zip(weights, learn.model.parameters()))


@pytest.mark.parametrize("optimizer", ["prodigy", "dadapt_adam"])
def test_the_step_recorded_is_the_step_taken(build, optimizer):
    """Prodigy and D-Adaptation step with the d held before the step and store a new one inside it:
    the recorded step must be d * lr as the optimizer saw it when it stepped (read by a hook that
    PyTorch calls just before every step), not the next step's."""
    learn = build()
    learn.opt_func = optimizer_func(optimizer)
    learn.create_opt()
    seen = []
    learn.opt.opt.register_step_pre_hook(
        lambda opt, args, kwargs: seen.append(opt.param_groups[-1]["d"] * opt.param_groups[-1]["lr"]))
    run = fit_and_record(learn, 2, 1.0, progress=False)
    assert len(seen) == len(run.effective_lrs) == 20
    assert run.effective_lrs == pytest.approx(seen, rel=1e-12)
    assert max(seen) / min(seen) > 10  # d grew while training: a shift by one step would show


def test_every_optimizer_of_a_comparison_has_the_same_eps_betas_and_weight_decay(build):
    """Like for like: the same eps and betas, and decoupled weight decay on every parameter, biases
    included, for fastai's Adam as for the wrapped PyTorch optimizers."""
    settings = {}
    for optimizer in OPTIMIZERS:
        learn = build()
        lr = None if optimizer in ("prodigy", "dadapt_adam") else 3e-3
        train_condition(learn, optimizer, "constant" if optimizer == "schedulefree_adamw" else "cosine", 1, lr)
        bias = learn.model[-1].bias
        if optimizer == "adam":
            h = learn.opt.hypers[-1]
            decays_bias = learn.opt.state[bias].get("do_wd", True)
            settings[optimizer] = (h["eps"], (h["mom"], h["sqr_mom"]), h["wd"], decays_bias)
        else:
            g = next(g for g in learn.opt.opt.param_groups if any(p is bias for p in g["params"]))
            settings[optimizer] = (g["eps"], tuple(g["betas"]), g["weight_decay"], True)
    assert len(set(settings.values())) == 1, settings
    assert settings["adam"] == (1e-8, (0.9, 0.999), 0.01, True)


@pytest.mark.parametrize("schedule, safeguard", [("one_cycle", True), ("wsd", True), ("cosine", False)])
def test_prodigy_guards_its_estimate_under_a_warm_up(build, schedule, safeguard):
    learn = build()
    train_condition(learn, "prodigy", schedule, 1)
    assert learn.opt.opt.param_groups[0]["safeguard_warmup"] is safeguard


def test_an_interrupted_schedule_free_fit_leaves_the_averaged_weights(build):
    """Ctrl-C in the middle of a fit: fastai calls no callback after it, yet the learner must hold
    the averaged weights (optimizer in eval() mode), as after a finished fit."""
    from fastai.callback.core import Callback

    class CtrlC(Callback):
        def after_batch(self):
            if self.train_iter == 5:
                raise KeyboardInterrupt

    learn = build()
    learn.add_cb(CtrlC())
    with pytest.raises(KeyboardInterrupt):
        train_condition(learn, "schedulefree_adamw", "constant", 2, 3e-3)
    opt = learn.opt.opt
    assert opt.param_groups[0]["train_mode"] is False
    weights = [p.detach().clone() for p in learn.model.parameters()]
    opt.eval()  # a no-op at the averaged point
    assert all(torch.equal(w, p) for w, p in zip(weights, learn.model.parameters()))
