"""A dry run: every code path and data size of a profile, with the training cut short.

``$LRKIT_STEP_CAP=N`` (read by :func:`lrkit.core.profiles.resolve_profile`, used for nothing else)
caps every fit at ``N`` training and ``N`` validation batches per epoch (validation batches cut
to the training batch size), every range test at ``max(N, RANGE_TEST_FLOOR)`` iterations (its
suggestions need a curve to read), every full-batch run at ``N`` steps, each sharpness
measurement at ``max(N, MEASUREMENT_FLOOR)`` iterations, and the sharpness tracked along a range
test to its first measurement (:func:`measured_enough`), and a grid of trainings to one cell per
optimizer and batch size (:func:`capped_cells`). The learners of a capped profile carry a
:class:`StepCap` callback; it also counts the training examples the same work would have processed
uncapped, which is what a notebook's run costs on the real profile (:func:`uncapped_examples`).
"""
from __future__ import annotations

from functools import partial
from typing import Callable

from fastai.callback.core import Callback

from lrkit.core.profiles import step_cap

__all__ = ["RANGE_TEST_FLOOR", "MEASUREMENT_FLOOR", "StepCap", "capped_steps", "capped_iterations", "measured_enough",
           "capped_cells", "uncapped_examples", "uncapped_steps"]

RANGE_TEST_FLOOR = 40  # fastai's slide looks 15 points back, after lr_find trims the ends
MEASUREMENT_FLOOR = 2  # power-iteration steps a dry run keeps (the fewest top_hessian_eigenvalue takes)

_tally = {"examples": 0, "steps": 0}  # what this process's capped runs would have done uncapped


def capped_steps(steps: int, examples_per_step: int) -> int:
    """``steps`` of a full-batch run, cut to the cap when there is one (the uncapped ones are counted)."""
    cap = step_cap()
    if cap is None:
        return steps
    _tally["examples"] += steps * examples_per_step
    _tally["steps"] += steps
    return min(steps, cap)


def capped_iterations(iters: int) -> int:
    """An iterative measurement's ``iters`` (the sharpness's power iteration), cut to a few in a dry
    run: its code path runs, on the profile's data, without the cost of converging."""
    cap = step_cap()
    return iters if cap is None else min(iters, max(cap, MEASUREMENT_FLOOR))


def measured_enough(done: int) -> bool:
    """Whether a measurement repeated along a run (the sharpness every few steps of a range test) has
    been made often enough: in a dry run once, which runs its code path on the profile's data; the
    repeats would only cost time (on the gpu profile each one is Hessian products on 5,000 images)."""
    return step_cap() is not None and done >= 1


def capped_cells(cells: list, group: Callable, budget: Callable) -> tuple[list, list]:
    """A grid's cells to train and to leave out: in a dry run the first cell of each ``group(cell)``
    (each optimizer and batch size: its code path and data size) is trained, capped like any fit, and
    the others are left out, their ``budget(cell)`` of (examples, steps) counted as what the uncapped
    run would take at most. Without a cap, every cell is trained."""
    if step_cap() is None:
        return list(cells), []
    seen, kept, left = set(), [], []
    for cell in cells:
        if group(cell) in seen:
            examples, steps = budget(cell)
            _tally["examples"] += examples
            _tally["steps"] += steps
            left.append(cell)
        else:
            seen.add(group(cell))
            kept.append(cell)
    return kept, left


def uncapped_examples() -> int:
    """Training examples this process's capped fits and range tests would have processed uncapped."""
    return _tally["examples"]


def uncapped_steps() -> int:
    """Training steps (batches) this process's capped fits and range tests would have taken uncapped."""
    return _tally["steps"]


class StepCap(Callback):
    """Cuts each epoch to ``n`` training and ``n`` validation batches by handing fastai a shortened
    loader, so schedules span the shortened epoch and every metric is recorded as usual; a range test
    keeps ``max(n, RANGE_TEST_FLOOR)`` iterations."""

    order = 101  # after the other callbacks' before_train and before_validate

    def __init__(self, n: int):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"Expected a positive number of steps, got {n!r}")
        self.n, self.range_test_its = n, max(n, RANGE_TEST_FLOOR)

    def range_test(self, num_it: int, batch_size: int) -> int:
        """The iterations a capped range test of ``num_it`` runs; counts the uncapped ones."""
        _tally["examples"] += num_it * batch_size
        _tally["steps"] += num_it
        return min(num_it, self.range_test_its)

    def before_fit(self):
        from fastai.callback.schedule import LRFinder

        finder = next((cb for cb in self.learn.cbs if isinstance(cb, LRFinder)), None)
        if finder is not None and finder.num_it > self.range_test_its:  # fastai's lr_find called directly
            finder.num_it = self.range_test(finder.num_it, self.dls.train.bs)  # (lrkit's wrapper capped it)
        # a range test stops the fit itself after its (capped) iterations
        self.in_range_test = finder is not None or any(getattr(cb, "is_range_test", False) for cb in self.learn.cbs)

    def before_train(self):
        if not self.in_range_test:
            _tally["examples"] += len(self.dls.train.dataset)
            _tally["steps"] += len(self.learn.dl)
            self.learn.dl = _Shortened(self.learn.dl, self.n)

    def before_validate(self):
        if not self.in_range_test:  # validation batches cut to the training batch size: they are what cost here
            self.learn.dl = _Shortened(self.learn.dl, self.n, items=self.dls.train.bs)


def _quick_shuffle(dl, idxs: list) -> list:
    """A permutation of ``idxs`` from the loader's own RNG, made by torch: fastai's shuffle
    (``random.sample`` over the whole split, a third of a second for Fashion-MNIST's 60,000
    images) cost more than the one batch a dry run reads an epoch."""
    import torch

    g = torch.Generator().manual_seed(dl.rng.randint(0, 2**31 - 1))
    return [idxs[i] for i in torch.randperm(len(idxs), generator=g).tolist()]


class _Shortened:
    """A loader's first ``n`` batches, each cut to its first ``items`` examples when given; everything
    else (batch size, dataset, device) is the loader's."""

    def __init__(self, dl, n: int, items: int | None = None):
        self._dl, self._n, self._items = dl, n, items

    def __len__(self) -> int:
        return min(self._n, len(self._dl))

    def __iter__(self):
        from itertools import islice

        if getattr(self._dl, "shuffle", False):  # this capped learner's loader only
            self._dl.shuffle_fn = partial(_quick_shuffle, self._dl)
        batches = islice(iter(self._dl), len(self))
        return batches if self._items is None else (tuple(t[:self._items] for t in b) for b in batches)

    def __getattr__(self, name):
        return getattr(self._dl, name)
