"""lrkit: helpers for lessons on the learning rate and the batch size.

The package is layered; each layer imports only from those below it:

- ``lrkit.core``: where things live and what is set up (data, weights and pretrained networks,
  models, the result cache, profiles, the session);
- ``lrkit.methods``: what the kit teaches (the range test and its suggestions, schedules,
  discriminative LRs, LR-free and schedule-free optimizers, curvature, the noise scale);
- ``lrkit.runs``: how runs are made and compared (training records, sweeps, conditions, seeds,
  building learners, the ground-truth grid and its Ray engine);
- ``lrkit.show``: what a learner sees (plots, panels, the setup report);
- ``lrkit.cli``: the command line, on top.

What the lessons use is importable from ``lrkit`` itself (``lrkit.find_lr(learn)``). Names are
loaded on first use, so ``import lrkit`` is instant and does nothing; call :func:`lrkit.setup`
first in a notebook.
"""
from __future__ import annotations

import importlib

from lrkit.core import __version__

# public name -> the module that defines it (PEP 562: loaded on first access)
_FACE: dict[str, str] = {
    **dict.fromkeys(["PROFILES", "Profile", "resolve_profile"], "lrkit.core.profiles"),
    **dict.fromkeys(["Session", "setup"], "lrkit.core.session"),
    **dict.fromkeys(["asset_status", "fetch_all"], "lrkit.core.assets"),
    **dict.fromkeys(["ResultCache", "cached_json", "cached_result", "load_result"], "lrkit.core.cache"),
    **dict.fromkeys(["dataloaders", "load_arrays"], "lrkit.core.data"),
    **dict.fromkeys(["GROUP_NAMES"], "lrkit.core.pretrained"),
    **dict.fromkeys(["FinderResult", "FinderSettings", "RangeTest", "exp_schedule", "fastai_lr_find", "find_lr",
                     "find_lr_torch", "resmooth", "smooth"], "lrkit.methods.range_test"),
    **dict.fromkeys(["METHODS", "suggest"], "lrkit.methods.suggestions"),
    **dict.fromkeys(["STATISTICS", "curve_noise", "divergence_lr", "pick_lr_max"], "lrkit.methods.curve_stats"),
    **dict.fromkeys(["preserved_state"], "lrkit.methods.learner_state"),
    **dict.fromkeys(["constant", "flat_cos", "one_cycle", "one_cycle_shape", "sample", "wsd"],
                    "lrkit.methods.schedules"),
    **dict.fromkeys(["group_lrs", "group_states"], "lrkit.methods.discriminative"),
    **dict.fromkeys(["LR_FREE", "optimizer_func", "schedule_free_eval_gap"], "lrkit.methods.lr_free"),
    **dict.fromkeys(["EdgeOfStabilityRun", "SharpnessTracker", "full_batch_gd", "gd_on_quadratic", "regime",
                     "stability_threshold", "top_hessian_eigenvalue"], "lrkit.methods.curvature"),
    **dict.fromkeys(["NoiseScale", "bend_found", "estimate_noise_scale", "fit_noise_scale_curve", "fit_power_law"],
                    "lrkit.methods.noise_scale"),
    **dict.fromkeys(["FitResult", "fit_and_record"], "lrkit.runs.training"),
    **dict.fromkeys(["build_learner", "build_pretrained_learner", "sweep_builder"], "lrkit.runs.learners"),
    **dict.fromkeys(["SweepSpec", "log_slopes", "per_seed", "pretrain", "rank_correlations", "run_sweep", "sweep_trend"],
                    "lrkit.runs.sweeps"),
    **dict.fromkeys(["cached_conditions", "condition_claim", "median_history", "run_conditions", "summary_rows"],
                    "lrkit.runs.compare"),
    **dict.fromkeys(["train_condition", "wsd_branches"], "lrkit.runs.conditions"),
    **dict.fromkeys(["find_lr_seeds", "spread_of"], "lrkit.runs.seeds"),
    **dict.fromkeys(["Claim", "check_claims", "hit_rate_claim", "paired_claim", "rank_agreement_claim", "trend_claim"],
                    "lrkit.runs.claims"),
    **dict.fromkeys(["RECIPE_SCHEDULES", "epochs_to_target", "fit_schedule", "per_seed_picks",
                     "recipe_condition", "valid_losses_at"], "lrkit.runs.recipe"),
    **dict.fromkeys(["CellRun", "GridCell", "GridSpec", "best_lr_slopes", "critical_batch_size",
                     "grid_spec_for", "how_readings_move", "median_best_lr", "per_seed_best", "reaches",
                     "readings_against_best", "run_grid"],
                    "lrkit.runs.grid"),
    **dict.fromkeys(["plot_lr_find", "plot_lr_schedule", "plot_seed_spread"], "lrkit.show.range_test_plots"),
    **dict.fromkeys(["plot_branch_lrs", "plot_effective_lrs", "plot_final_vs_lr", "plot_fit_histories",
                     "plot_group_drift", "plot_group_lrs", "plot_group_schedules", "plot_lr_per_epoch",
                     "plot_schedule"], "lrkit.show.training_plots"),
    **dict.fromkeys(["plot_batch_overlay", "plot_lr_vs_batch", "plot_noise_vs_batch"], "lrkit.show.batch_plots"),
    **dict.fromkeys(["plot_loss_runs", "plot_sharpness_during_test", "plot_sharpness_runs"],
                    "lrkit.show.curvature_plots"),
    **dict.fromkeys(["environment_report"], "lrkit.show.report"),
    **dict.fromkeys(["readable"], "lrkit.show.tables"),
    **dict.fromkeys(["FinderPanel"], "lrkit.show.finder_panel"),
    **dict.fromkeys(["DiscriminativePanel", "LRTrialPanel", "PlateauPanel", "SchedulePanel"],
                    "lrkit.show.training_panels"),
    **dict.fromkeys(["BatchSizePanel"], "lrkit.show.batch_panel"),
    **dict.fromkeys(["QuadraticPanel"], "lrkit.show.quadratic_panel"),
    **dict.fromkeys(["ConditionsPanel"], "lrkit.show.conditions_panel"),
    **dict.fromkeys(["GridPanel"], "lrkit.show.grid_panel"),
    **dict.fromkeys(["RecipePanel"], "lrkit.show.recipe_panel"),
    **dict.fromkeys(["plot_early_vs_final", "plot_grid_early_vs_final", "plot_to_target", "plot_valid_loss_vs_knob"],
                   "lrkit.show.recipe_plots"),
    **dict.fromkeys(["OPTIMIZER_COLORS", "plot_best_lr_vs_batch", "plot_readings_vs_best", "plot_steps_vs_batch",
                     "seed_band"],
                    "lrkit.show.grid_plots"),
}

__all__ = sorted(_FACE) + ["__version__"]


def __getattr__(name: str):
    module = _FACE.get(name)
    if module is None:
        raise AttributeError(f"module 'lrkit' has no attribute {name!r}; the public names are in lrkit.__all__")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FACE))
