"""Scale-out with Ray: one task per (checkpoint, shard), all writing into one shared store.

Optional (`pip install grokviz[ray]`); `ray` is imported only inside `extract_with_ray`. Each task
calls the ordinary `extract()` with `shard=(i, n)` and the one checkpoint (`steps=(step,)`, or
`revisions=(revision,)` for hub branches), so it writes exactly the files `grokviz extract
--shard i/n` would: the result equals a single-process run, and a rerun skips finished
(checkpoint, shard) pairs. Tasks ask Ray for `num_gpus_per_task` GPUs (0: CPU), so a cluster
places them on its GPUs. The store must be on storage every node sees. CLI: `grokviz extract
--ray N [--ray-gpus G]`. Start at `extract_with_ray`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from grokviz.config import ExtractConfig
from grokviz.errors import GrokvizError, InputError


@dataclasses.dataclass
class RayReport:
    """What one `extract_with_ray` call did: (step, shard index) pairs done and skipped."""

    tasks_done: list[tuple[int, int]]
    tasks_skipped: list[tuple[int, int]]
    n_shards: int


def task_configs(config: ExtractConfig, steps: list[int], revisions: list[str | None],
                 n_shards: int) -> list[ExtractConfig]:
    """One config per (checkpoint, shard): the same settings, one checkpoint, shard i of n.

    >>> base = ExtractConfig(run="r", model="m", samples="s.jsonl")
    >>> [(c.steps, c.shard) for c in task_configs(base, [100, 200], [None, None], 2)]
    [((100,), (0, 2)), ((100,), (1, 2)), ((200,), (0, 2)), ((200,), (1, 2))]
    """
    if n_shards < 1:
        raise InputError(f"--ray needs at least 1 shard, got {n_shards}", field="ray")
    configs = []
    for step, revision in zip(steps, revisions):
        one = dict(revisions=(revision,), steps=()) if config.revisions else dict(steps=(step,))
        configs += [dataclasses.replace(config, shard=(index, n_shards), **one) for index in range(n_shards)]
    return configs


def _run_task(config: ExtractConfig, store_root: str) -> tuple[int, int, bool]:
    """Inside a Ray worker: extract one (checkpoint, shard); (step, shard index, was it done)."""
    from grokviz.extract.run import extract
    from grokviz.store.layout import Store

    report = extract(config, Store(store_root), progress=False)
    step = (report.checkpoints_done or report.checkpoints_skipped or [-1])[0]
    return step, config.shard[0], bool(report.checkpoints_done)


def extract_with_ray(config: ExtractConfig, store_root: str | Path, n_shards: int,
                     num_gpus_per_task: float = 0) -> RayReport:
    """Extract every checkpoint of `config` as n_shards Ray tasks per checkpoint, in parallel.

    Connects to the running Ray cluster (RAY_ADDRESS) or starts a local one when none is
    initialised. Errors from tasks come back as the same `GrokvizError` a local run raises.
    """
    import ray

    from grokviz.extract.run import resolve_series
    from grokviz.inputs.samples import read_samples
    from grokviz.store.layout import Store

    read_samples(config.samples)  # a bad samples file fails here, once, not in every task
    Store(store_root)  # create (or check) the store once, before tasks race to it
    series = resolve_series(config)
    configs = task_configs(config, [c.step for c in series], [c.revision for c in series], n_shards)
    if not ray.is_initialized():
        ray.init(include_dashboard=False)
    task = ray.remote(num_gpus=num_gpus_per_task, num_cpus=1)(_run_task)
    futures = [task.remote(one, str(store_root)) for one in configs]
    try:
        outcomes = ray.get(futures)
    except ray.exceptions.RayTaskError as err:
        if isinstance(err.cause, GrokvizError):  # one clear line, as a local run gives
            raise err.cause from None
        raise
    return RayReport([(s, i) for s, i, done in outcomes if done],
                     [(s, i) for s, i, done in outcomes if not done], n_shards)
