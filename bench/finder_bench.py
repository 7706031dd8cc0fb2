"""Time lrkit's range test against fastai's lr_find and a bare PyTorch loop of the same steps.

Same model, data, batches and number of steps; the variants run interleaved, several rounds,
so machine noise hits them alike. Reports the median time of each and the ratios.
Run: ``make bench`` (or ``python -m bench``).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings

import torch

NUM_IT = 100
SETTINGS = dict(start_lr=1e-5, end_lr=1.0, num_it=NUM_IT, stop_div=False)


def _learner(workdir, seed=0):
    from fastai.torch_core import set_seed

    from lrkit.core.data import dataloaders
    from lrkit.core.models import make_learner, small_cnn

    set_seed(seed)
    dls = dataloaders("fashion_mnist", bs=64, n_train=6400, n_valid=256, seed=seed)
    return make_learner(dls, small_cnn(10), opt="sgd", workdir=workdir)


def bare_torch(learn, torch_opt):
    """The steps of a range test with nothing else: set LR, forward, backward, step, read the loss."""
    from lrkit.methods.range_test import exp_schedule

    model, loss_func = learn.model, learn.loss_func
    schedule = exp_schedule(SETTINGS["start_lr"], SETTINGS["end_lr"], NUM_IT)
    model.train()
    losses, it = [], 0
    while it < NUM_IT:
        for x, y in learn.dls.train:
            for g in torch_opt.param_groups:
                g["lr"] = schedule[it]
            loss = loss_func(model(x), y)
            loss.backward()
            torch_opt.step()
            torch_opt.zero_grad()
            losses.append(loss.item())
            it += 1
            if it == NUM_IT:
                break
    return losses


def variants(workdir):
    from lrkit.methods.range_test import find_lr, find_lr_torch

    def torch_opt(learn):
        return torch.optim.SGD(learn.model.parameters(), lr=1e-3, momentum=0.9)

    def run_bare(learn):
        bare_torch(learn, torch_opt(learn))

    def run_lrkit_torch(learn):
        find_lr_torch(learn.model, torch_opt(learn), learn.loss_func, learn.dls.train, progress=False, **SETTINGS)

    def run_lrkit_learner(learn):
        find_lr(learn, progress=False, **SETTINGS)

    def run_fastai(learn):
        with learn.no_logging(), learn.no_bar():
            learn.lr_find(show_plot=False, **SETTINGS)

    return {"bare PyTorch loop": run_bare, "lrkit find_lr_torch": run_lrkit_torch,
            "lrkit find_lr (Learner)": run_lrkit_learner, "fastai lr_find": run_fastai}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as workdir:
        runs = variants(workdir)
        times = {name: [] for name in runs}
        for name, fn in runs.items():  # warm-up
            fn(_learner(workdir))
        for _ in range(args.rounds):
            for name, fn in runs.items():
                learn = _learner(workdir)
                t0 = time.perf_counter()
                fn(learn)
                times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    base = med["bare PyTorch loop"]
    print(f"{NUM_IT} steps, small CNN, Fashion-MNIST, batch 64, {args.rounds} interleaved rounds, "
          f"device {'cuda' if torch.cuda.is_available() else 'cpu'}")
    for name, m in med.items():
        print(f"  {name:26} {m * 1000:8.1f} ms   {m / base:5.2f}x bare loop")
    print(f"  lrkit find_lr (Learner) / fastai lr_find: {med['lrkit find_lr (Learner)'] / med['fastai lr_find']:.2f}x")
    ratio = med["lrkit find_lr_torch"] / base
    print(f"lrkit find_lr_torch / bare loop = {ratio:.2f} (goal: at most 1.15)")
    return ratio


if __name__ == "__main__":
    main()
