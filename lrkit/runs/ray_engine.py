"""The grid on Ray: one task per cell, on a cluster at ``address`` or on a local Ray instance.

Ray (``pip install 'lrkit[cluster]'``) is for the one workload of the kit that outgrows a machine:
a grid of real trainings. Each task asks for one CPU, and one GPU where the cluster has them; it
builds its own session (profile, device) in the worker and trains its cell exactly as the local
engine does, so a cell is the same number for number on either engine. The driver yields results
as they arrive (:func:`lrkit.runs.grid.run_grid` writes each one into the cache at once), with a
progress bar over cells. A task that raises is retried once; a second failure is reported by cell,
and the others go on.
"""
from __future__ import annotations

from typing import Iterator, Sequence

from lrkit.runs.grid import CellRun, GridCell, GridFailure, GridSpec

__all__ = ["ray_cells", "RETRIES"]

RETRIES = 1  # a task that raises runs once more before it is reported


def _ray():
    try:
        import ray
    except ImportError:
        raise ImportError("The grid's Ray engine needs Ray, which is not installed here: "
                          "pip install 'lrkit[cluster]' (or use engine='local')") from None
    return ray


def _train_in_worker(spec: GridSpec, cell: GridCell, profile: str) -> dict:
    """A Ray task: the cell trained in the worker's own session; a plain dict goes back to the driver."""
    from lrkit.core.session import setup
    from lrkit.runs.grid import train_cell

    return train_cell(spec, cell, setup(profile, style=False)).to_dict()


def ray_cells(spec: GridSpec, cells: Sequence[GridCell], *, address: str | None = None,
              progress: bool = True) -> Iterator[CellRun | GridFailure]:
    """Train ``cells`` as Ray tasks and yield each :class:`CellRun` (or :class:`GridFailure`) as it
    arrives. Connects to ``address`` (``"auto"`` or ``"ray://host:10001"``), else starts a local Ray
    instance with this machine's CPUs and no dashboard, shut down again at the end. The workers of a
    local instance inherit this process's environment (data home, profile, threads); those of a
    cluster use their own, set up where the cluster was started."""
    from lrkit.core.profiles import resolve_profile

    ray = _ray()
    started_here = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        started_here = True
    try:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        task = ray.remote(_train_in_worker).options(num_cpus=1, num_gpus=gpus, max_retries=RETRIES,
                                                    retry_exceptions=True)
        profile = resolve_profile().name
        pending = {task.remote(spec, cell, profile): cell for cell in cells}
        bar = None
        if progress:
            from fastprogress.fastprogress import progress_bar

            bar = progress_bar(range(len(pending)), leave=True)
            bar.update(0)
        done = 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                cell = pending.pop(ref)
                try:
                    yield CellRun.from_dict(ray.get(ref))
                except ray.exceptions.RayTaskError as err:
                    cause = err.cause if getattr(err, "cause", None) is not None else err
                    yield GridFailure(cell, f"{type(cause).__name__}: {cause}")
                done += 1
                if bar is not None:
                    bar.update(done)
    finally:
        if started_here:
            ray.shutdown()
