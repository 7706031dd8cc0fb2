"""A training step of notebook 04's EfficientNet-Lite0 with its activations and weights laid out
channels-first (PyTorch's default) and channels-last (what ``lrkit.efficientnet_lite0`` builds).

Same weights, batch and sizes for both; the two layouts run interleaved, several rounds, so machine
noise hits them alike. Reports the median time of a step (forward, backward, optimizer step) and
the ratio. Run: ``python -m bench layout``.
"""
from __future__ import annotations

import copy
import statistics
import time
import warnings

import torch

BATCH = 32  # notebook 04's batch size
SIZES = (32, 48)  # the cpu profile's and the gpu profile's input size in notebook 04


def _step(net, opt, x, y) -> None:
    opt.zero_grad()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    opt.step()


def _time(net, x, y, steps: int) -> float:
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    _step(net, opt, x, y)  # first step: allocations and the optimizer's state
    t0 = time.perf_counter()
    for _ in range(steps):
        _step(net, opt, x, y)
    return (time.perf_counter() - t0) / steps


def main(rounds: int = 5, steps: int = 5) -> dict[int, float]:
    warnings.filterwarnings("ignore")
    from lrkit.core.pretrained import efficientnet_lite0

    torch.manual_seed(0)
    print(f"EfficientNet-Lite0 training step, batch {BATCH}, {rounds} interleaved rounds of {steps} steps, "
          f"{torch.get_num_threads()} torch thread(s), device cpu")
    ratios = {}
    for size in SIZES:
        last = efficientnet_lite0(2, pretrained=True, size=size)  # channels-last, as the kit builds it
        first = copy.deepcopy(last).to(memory_format=torch.contiguous_format)
        first[0].memory_format = torch.contiguous_format
        x, y = torch.randn(BATCH, 1, 28, 28), torch.randint(0, 2, (BATCH,))
        times = {"channels-first": [], "channels-last": []}
        for _ in range(rounds):
            times["channels-first"].append(_time(first, x, y, steps))
            times["channels-last"].append(_time(last, x, y, steps))
        med = {k: statistics.median(v) for k, v in times.items()}
        ratios[size] = med["channels-last"] / med["channels-first"]
        print(f"  {size} px: channels-first {1000 * med['channels-first']:6.1f} ms, channels-last "
              f"{1000 * med['channels-last']:6.1f} ms: {ratios[size]:.2f}x")
    return ratios


if __name__ == "__main__":
    main()
