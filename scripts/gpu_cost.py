"""What each notebook will cost on one GPU on the gpu profile, estimated from the dry run's counts.

    python scripts/gpu_cost.py [FOLDER]    # default: $LRKIT_ARTIFACTS/gpu-dry-run, written by make test

tests/test_gpu_dry_run.py runs every notebook on the gpu profile with its training capped and
records the training steps and examples the uncapped run would take. This turns them into minutes
with a cost per step and per example that is an ESTIMATE, not a measurement: it prints the
assumptions with the table. A run on a real GPU replaces them with measured minutes.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Assumed, not measured (no GPU was available): fastai's loop with its callbacks takes a few
# milliseconds a step whatever the model; the kit's small CNNs on 28x28 images cost microseconds
# an example on a data-centre GPU, EfficientNet-Lite0 at 48 px in mixed precision some tens.
SECONDS_PER_STEP = 0.004
SECONDS_PER_EXAMPLE = {"default": 5e-6, "04_discriminative_lrs": 3e-5}
WARM_MINUTES = "under 1"  # every result from the cache: kernel start, loading and plotting


def _folder() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    home = Path(os.environ.get("LRKIT_HOME") or Path.home() / ".cache" / "lrkit")
    return Path(os.environ.get("LRKIT_ARTIFACTS") or home / "artifacts") / "gpu-dry-run"


def main() -> int:
    folder = _folder()
    reports = sorted(folder.glob("*.json"))
    if not reports:
        print(f"No dry-run reports in {folder}: run `make test` (or pytest tests/test_gpu_dry_run.py) first.",
              file=sys.stderr)
        return 2
    print("| notebook | training steps | training examples | cold, estimated | warm |")
    print("|---|---:|---:|---:|---:|")
    for path in reports:
        r = json.loads(path.read_text())
        per_example = SECONDS_PER_EXAMPLE.get(r["notebook"], SECONDS_PER_EXAMPLE["default"])
        minutes = (r["uncapped_steps"] * SECONDS_PER_STEP + r["uncapped_examples"] * per_example) / 60
        print(f"| `{r['notebook']}` | {r['uncapped_steps']:,} | {r['uncapped_examples']:,} | {minutes:.1f} min "
              f"| {WARM_MINUTES} min |")
    print(f"\nEstimated, not measured: {SECONDS_PER_STEP * 1000:g} ms a training step plus "
          f"{SECONDS_PER_EXAMPLE['default'] * 1e6:g} us an example "
          f"({SECONDS_PER_EXAMPLE['04_discriminative_lrs'] * 1e6:g} us for EfficientNet in 04); "
          "validation, kernel start and plotting not counted.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
