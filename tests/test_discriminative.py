"""Discriminative LRs against the LRs fastai puts in the optimizer's param groups."""
import pytest
import torch
from fastai.callback.schedule import fit_one_cycle  # noqa: F401  (Learner.fine_tune, fit_one_cycle)
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat
from fastai.metrics import accuracy
from fastai.optimizer import Adam
from fastai.torch_core import set_seed
from torch import nn

from lrkit.core.data import dataloaders
from lrkit.methods.discriminative import GroupLRRecorder, group_lrs, group_states
from lrkit.runs.training import fit_and_record
from lrkit.methods.schedules import one_cycle, sample


def three_groups(workdir):
    set_seed(0)
    dls = dataloaders("digits", bs=32, n_train=256, n_valid=64, seed=0, device="cpu")
    model = nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()),
        nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        nn.Linear(8, 10),
    )
    return Learner(dls, model, loss_func=CrossEntropyLossFlat(), opt_func=Adam, path=workdir, metrics=accuracy,
                   splitter=lambda m: [list(m[i].parameters()) for i in range(3)])


@pytest.mark.parametrize("spec,expected", [
    (1e-3, [1e-3, 1e-3, 1e-3]),
    (slice(1e-2), [1e-3, 1e-3, 1e-2]),
    (slice(1e-5, 1e-3), [1e-5, 1e-4, 1e-3]),
])
def test_group_lrs_by_hand(spec, expected):
    assert group_lrs(spec, 3) == pytest.approx(expected)


@pytest.mark.parametrize("spec", [3e-3, slice(3e-3), slice(1e-5, 1e-2), slice(2e-4, 2e-4)])
def test_group_lrs_equal_fastai_set_hyper(workdir, spec):
    learn = three_groups(workdir)
    learn.create_opt()
    learn.opt.set_hyper("lr", spec)
    assert [h["lr"] for h in learn.opt.hypers] == pytest.approx(group_lrs(spec, 3), rel=1e-12)


def test_one_cycle_with_a_slice_puts_each_group_on_its_own_cycle(workdir):
    learn = three_groups(workdir)
    rec = GroupLRRecorder()
    with learn.no_logging(), learn.no_bar():
        learn.fit_one_cycle(2, slice(1e-5, 1e-3), cbs=rec)
    n = 2 * len(learn.dls.train)
    for lr_max, recorded in zip(group_lrs(slice(1e-5, 1e-3), 3), rec.per_group()):
        assert recorded == pytest.approx(sample(one_cycle(lr_max)[0], n), rel=1e-9)


def test_group_states_report_freezing(workdir):
    learn = three_groups(workdir)
    learn.freeze()
    states = group_states(learn)
    assert [s.trainable for s in states] == [False, False, True]
    assert states[0].n_params == sum(p.numel() for p in learn.model[0].parameters())
    # fastai keeps batch-norm layers training in frozen groups
    assert learn.model[0][1].weight.requires_grad and not learn.model[0][0].weight.requires_grad
    learn.unfreeze()
    assert all(s.trainable for s in group_states(learn))


def test_drift_is_each_groups_relative_distance_moved(workdir):
    learn = three_groups(workdir)
    learn.train_bn = False  # so freezing the first group freezes its batch norm too
    learn.freeze_to(1)
    start = [[p.detach().clone() for p in g] for g in learn.splitter(learn.model)]
    result = fit_and_record(learn, 1, slice(1e-4, 1e-2), method="one_cycle", progress=False)
    by_hand = [float(torch.cat([(p.detach() - s).flatten() for p, s in zip(g, g0)]).norm()
                     / torch.cat([s.flatten() for s in g0]).norm())
               for g, g0 in zip(learn.splitter(learn.model), start)]
    assert result.group_drift == pytest.approx(by_hand, rel=1e-5)
    assert result.group_drift[0] == 0 and result.group_drift[1] > 0 and result.group_drift[2] > 0


@pytest.mark.parametrize("bad", [slice(None), slice(1e-2, 1e-3), -1.0])
def test_bad_specs(bad):
    with pytest.raises(ValueError, match="Expected"):
        group_lrs(bad, 3)


def test_pretrained_weights_load_offline_and_split_into_three_groups():
    from lrkit.core.pretrained import efficientnet_lite0, efficientnet_splitter

    model = efficientnet_lite0(2, pretrained=True, size=32)
    groups = efficientnet_splitter(model)
    assert len(groups) == 3 and [len(g) > 0 for g in groups] == [True, True, True]
    assert sum(map(len, groups)) == len(list(model.parameters()))  # every parameter in exactly one group
    random = efficientnet_lite0(2, pretrained=False, size=32)
    stem = model[1]._conv_stem.weight
    assert not torch.equal(stem, random[1]._conv_stem.weight)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 2)


def test_the_pretrained_network_is_channels_last_and_computes_what_channels_first_does():
    import copy

    from lrkit.core.pretrained import efficientnet_lite0

    torch.manual_seed(0)
    model = efficientnet_lite0(2, pretrained=True, size=32).eval()
    stem = model[1]._conv_stem.weight
    assert stem.is_contiguous(memory_format=torch.channels_last) and not stem.is_contiguous()
    x = torch.randn(4, 1, 28, 28)
    assert model[0](x).is_contiguous(memory_format=torch.channels_last)
    first = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    first[0].memory_format = torch.contiguous_format
    assert first[0](x).is_contiguous() and first[1]._conv_stem.weight.is_contiguous()
    # the layout changes how the convolutions run, not what they compute
    torch.testing.assert_close(model(x), first(x), rtol=1e-4, atol=1e-5)


def test_discriminative_panel_redraws_live_and_trains_with_the_slice(workdir):
    from matplotlib.figure import Figure

    from lrkit.runs.training import fit_and_record
    from lrkit.show.training_panels import DiscriminativePanel

    specs = []

    def train(spec):
        specs.append(spec)
        return fit_and_record(three_groups(workdir), 1, spec, method="one_cycle", progress=False, label="mine")

    panel = DiscriminativePanel(["early", "late", "head"], lo=1e-5, hi=1e-3, train=train)
    bars = [p.get_height() for p in panel.figure.axes[0].patches]
    assert bars == pytest.approx([1e-5, 1e-4, 1e-3])
    panel.lo.value = 1e-4
    assert [p.get_height() for p in panel.figure.axes[0].patches] == pytest.approx([1e-4, 10 ** -3.5, 1e-3])
    assert specs == []
    panel.lo.value = 1e-1  # above hi: an error in the panel, not a traceback
    assert "0 &lt; lo &lt;= hi" in panel.status.value
    panel.lo.value = 1e-5
    panel.train_button.click()
    assert specs == [slice(1e-5, 1e-3)] and "accuracy" in panel.status.value
    assert isinstance(panel.figure, Figure) and len(panel.figure.axes) == 2


def test_online_resnet34_path_on_a_local_pets_folder(tmp_path):
    import numpy as np
    from PIL import Image

    from lrkit import setup
    from lrkit.runs.learners import pets_resnet34_learner

    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    for i in range(8):  # same layout and naming as Oxford-IIIT Pets: cats capitalised
        for name in (f"Persian_{i}.jpg", f"pug_{i}.jpg"):
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(tmp_path / "images" / name)
    session = setup("ci", style=False)
    learn = pets_resnet34_learner(session, size=32, bs=4, pretrained=False, path=tmp_path)  # no weights download
    assert len(learn.opt.param_lists if learn.opt else learn.splitter(learn.model)) == 3  # fastai's own groups
    assert learn.dls.c == 2


def test_fit_result_keeps_every_groups_lr_and_survives_json(workdir):
    import json

    from lrkit.runs.training import FitResult, fit_and_record

    result = fit_and_record(three_groups(workdir), 1, slice(1e-5, 1e-3), method="one_cycle", progress=False)
    n = len(result.lrs)
    assert len(result.group_lrs) == 3 and all(len(g) == n for g in result.group_lrs)
    for lrs, lr_max in zip(result.group_lrs, group_lrs(slice(1e-5, 1e-3), 3)):
        assert lrs == pytest.approx(sample(one_cycle(lr_max)[0], n), rel=1e-9)
    assert FitResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
