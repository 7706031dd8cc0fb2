"""Bad input on every surface (the API, the command line, the panels) gets a clear message that
says what was expected and what was got, and loses nothing. One table per surface."""
import subprocess
import sys
from pathlib import Path

import pytest

from lrkit import setup
from lrkit.cli import main
from lrkit.runs.compare import median_history
from lrkit.methods.curvature import gd_on_quadratic
from lrkit.core.data import dataloaders, load_arrays
from lrkit.methods.discriminative import group_lrs
from lrkit.runs.learners import build_learner
from lrkit.methods.range_test import FinderResult, FinderSettings, find_lr
from lrkit.core.models import opt_func
from lrkit.runs.seeds import spread_of
from lrkit.show.training_plots import plot_fit_histories
from lrkit.core.profiles import resolve_profile
from lrkit.methods.schedules import combine, constant, one_cycle, sample, triangular, wsd
from lrkit.runs.training import FitResult, fit_and_record

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def session():
    return setup("ci", seed=0, style=False)


@pytest.fixture(scope="module")
def learner(session):
    def build():
        return build_learner(session, dataset="digits", model="tiny_cnn", bs=32, opt="adam", seed=0, n_train=160)
    return build


@pytest.fixture(scope="module")
def two_runs(learner):
    a = find_lr(learner(), num_it=20, progress=False)
    b = find_lr(learner(), num_it=30, progress=False)
    return a, b


# (what, call, the message must contain); `call` gets the fixtures it needs by name
API = [
    ("range test: start above end", lambda: FinderSettings(start_lr=1.0, end_lr=0.1), "Expected 0 < start_lr < end_lr"),
    ("range test: too few iterations", lambda: FinderSettings(num_it=3), "num_it of at least 6"),
    ("range test: smoothing of 1", lambda: FinderSettings(beta=1.0), "Expected smoothing beta in [0, 1)"),
    ("batch size 0", lambda: dataloaders("digits", bs=0, device="cpu"), "positive integer batch size, got 0"),
    ("unknown dataset", lambda: load_arrays("mnist"), "Unknown dataset 'mnist'"),
    ("negative subset", lambda: load_arrays("digits", n_train=-5), "positive number of items, got -5"),
    ("slice lo above hi for layer groups", lambda: group_lrs(slice(1e-2, 1e-4), 3), "0 < lo <= hi"),
    ("negative LR for layer groups", lambda: group_lrs(-1e-3, 3), "positive number or a slice"),
    ("a word as an LR", lambda: group_lrs("fast", 3), "got 'fast'"),
    ("1cycle with a negative lr_max", lambda: one_cycle(-1.0), "positive lr_max"),
    ("1cycle with pct_start above 1", lambda: one_cycle(1e-2, pct_start=1.5), "pct_start strictly between 0 and 1"),
    ("schedules and fractions of different lengths", lambda: combine([0.5], [constant(1), constant(2)]),
     "1 fractions and 2 schedules"),
    ("no iterations to sample", lambda: sample(constant(1.0), 0), "positive number of iterations"),
    ("triangular step of 0", lambda: triangular(1e-4, 1e-2, 0), "positive integer step_size"),
    ("WSD decaying before the warm-up ends", lambda: wsd(1e-2, 10, 5, 5), "warmup <= decay_start"),
    ("unknown profile", lambda: resolve_profile("tpu"), "Unknown lrkit profile 'tpu'"),
    ("unknown optimizer", lambda: opt_func("rmsprop"), "Unknown optimizer 'rmsprop'"),
    ("quadratic with a negative LR", lambda: gd_on_quadratic((1.0, 0.5), -0.1), "positive lr"),
    ("no runs to take a median of", lambda: median_history([]), "at least one run"),
    ("no range tests to spread", lambda: spread_of([]), "at least one range-test result"),
    ("unknown metric", lambda: plot_fit_histories([], "acc"), "metric 'accuracy', 'valid_loss' or 'train_loss'"),
    ("a stored result of another shape", lambda: FitResult.from_dict({"label": "x", "lr": 1.0, "accuracy": [0.5]}),
     "Expected a stored FitResult; this one lacks"),
    ("a range test stored as a list", lambda: FinderResult.from_dict([1, 2, 3]), "as a JSON object, got list"),
]


@pytest.mark.parametrize("what, call, message", API, ids=[row[0] for row in API])
def test_api_refuses_bad_input_with_a_message_naming_it(what, call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)


LEARNER_API = [
    ("fit with slice lo above hi", lambda l: fit_and_record(l, 1, slice(1e-2, 1e-5), progress=False),
     "0 < lo <= hi"),
    ("fit for 0 epochs", lambda l: fit_and_record(l, 0, 1e-3, progress=False), "at least one epoch, got 0"),
    ("fit with an unknown method", lambda l: fit_and_record(l, 1, 1e-3, method="sgdr", progress=False),
     "method 'fit', 'one_cycle' or 'flat_cos', got 'sgdr'"),
    ("range test of 2 iterations", lambda l: find_lr(l, num_it=2, progress=False), "num_it of at least 6"),
]


@pytest.mark.parametrize("what, call, message", LEARNER_API, ids=[row[0] for row in LEARNER_API])
def test_api_refuses_bad_input_to_a_learner_and_leaves_it_untouched(learner, what, call, message):
    learn = learner()
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    with pytest.raises(ValueError) as err:
        call(learn)
    assert message in str(err.value)
    after = learn.model.state_dict()
    assert all((before[k] == after[k]).all() for k in before)


def test_range_tests_of_different_settings_are_not_overlaid(two_runs):
    with pytest.raises(ValueError, match="same schedule, got 2 different settings"):
        spread_of(two_runs)


CLI = [
    ([], "the following arguments are required"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["sweep", "--batch-sizes", "0"], "--batch-sizes: expected a positive int, got '0'"),
    (["sweep", "--batch-sizes", "64", "-8"], "--batch-sizes: expected a positive int, got '-8'"),
    (["sweep", "--num-it", "abc"], "--num-it: expected a positive int, got 'abc'"),
    (["sweep", "--num-it", "3"], "num_it of at least 6, got 3"),
    (["sweep", "--n-train", "-100"], "--n-train: expected a positive int, got '-100'"),
    (["sweep", "--seeds", "-1"], "--seeds: expected a whole number of 0 or more, got '-1'"),
    (["sweep", "--dataset", "mnist"], "--dataset: invalid choice: 'mnist'"),
    (["sweep", "--model", "resnet50"], "--model: invalid choice: 'resnet50'"),
    (["sweep", "--opt", "lion"], "--opt: invalid choice: 'lion'"),
    (["sweep", "--profile", "tpu"], "--profile: invalid choice: 'tpu'"),
    (["sweep", "--pretrain-lr", "fast"], "--pretrain-lr: expected a positive float, got 'fast'"),
    (["sweep", "--pretrain-epochs", "-2"], "--pretrain-epochs: expected a whole number of 0 or more, got '-2'"),
]


@pytest.mark.parametrize("argv, message", CLI, ids=[" ".join(a) or "(nothing)" for a, _ in CLI])
def test_command_line_says_in_one_line_what_was_wrong_and_exits_non_zero(capsys, tmp_path, argv, message):
    try:
        code = main(argv + (["--cache", str(tmp_path)] if argv[:1] == ["sweep"] else []))
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir())  # nothing computed, nothing stored


def test_command_line_error_from_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "lrkit", "sweep", "--batch-sizes", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "python -m lrkit: error: argument --batch-sizes: expected a positive int, got '0' "
        "(see python -m lrkit sweep --help)"]


def _panels(learner):
    from lrkit.show.conditions_panel import ConditionsPanel
    from lrkit.show.training_panels import DiscriminativePanel, LRTrialPanel, SchedulePanel
    from lrkit.show.finder_panel import FinderPanel

    return {
        "finder: start LR above end LR": (
            lambda: FinderPanel(lambda bs, opt, seed: learner(), num_it=10),
            lambda p: (setattr(p.start_lr, "value", 1e-2), setattr(p.end_lr, "value", 1e-2), p.run_button.click()),
            "Expected 0 &lt; start_lr &lt; end_lr"),
        "discriminative: lo above hi": (
            lambda: DiscriminativePanel(["body", "head"], lo=1e-4, hi=1e-2),
            lambda p: setattr(p.lo, "value", 0.05),
            "0 &lt; lo &lt;= hi"),
        "LR trial: training fails": (
            lambda: LRTrialPanel(lambda lr, epochs: fit_and_record(learner(), epochs, slice(1e-2, 1e-4)),
                                 references=[]),
            lambda p: p.train_button.click(),
            "0 &lt; lo &lt;= hi"),
        "schedule: training fails": (
            lambda: SchedulePanel(2, 10, lr_max=1e-2, train=lambda **kw: fit_and_record(learner(), 0, 1e-2)),
            lambda p: p.train_button.click(),
            "Expected at least one epoch, got 0"),
        "conditions: nothing chosen": (
            lambda: ConditionsPanel({"Adam": {"optimizer": "adam", "schedule": "cosine"}}, lambda **kw: None, [0],
                                    cache_key={"experiment": "bad-input"}),
            lambda p: setattr(p.chosen, "value", ()),
            "Select at least one condition"),
    }


PANEL_CASES = ["finder: start LR above end LR", "discriminative: lo above hi", "LR trial: training fails",
               "schedule: training fails", "conditions: nothing chosen"]


@pytest.mark.parametrize("case", PANEL_CASES)
def test_panels_show_the_message_and_keep_the_last_good_picture(learner, case, tmp_path, monkeypatch):
    monkeypatch.setenv("LRKIT_CACHE", str(tmp_path))
    make, act, message = _panels(learner)[case]
    panel = make()
    picture = panel.figure
    act(panel)  # no exception escapes the panel
    assert message in panel.status.value and "Traceback" not in panel.status.value
    assert panel.figure is picture  # the last good picture stays


def test_a_picture_that_fails_to_draw_from_a_control_shows_its_error_in_the_panel():
    """A control's callback runs in the kernel's comm handler, whose tracebacks only reach the log."""
    import ipywidgets as W
    from matplotlib.figure import Figure

    from lrkit.show.panel_base import Panel

    class Reciprocal(Panel):
        def __init__(self):
            super().__init__()
            self.x = W.IntSlider(value=1, min=0, max=3)
            self._redraw_on(self.x)
            self.redraw()

        def redraw(self, *_):
            fig = Figure()
            fig.subplots().plot([0, 1], [0, 1 / self.x.value])  # fails at 0
            self._show(fig)

    panel = Reciprocal()
    picture = panel.figure
    panel.x.value = 0
    assert "ZeroDivisionError" in panel.status.value and panel.figure is picture
    panel.x.value = 2
    assert panel.figure is not picture
