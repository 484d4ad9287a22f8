"""Run independent jobs (trainings, label batches) in a process pool with resume.

Each job is a JSON-able dict with a unique ``"id"``; ``worker`` is an importable top-level function
``worker(job) -> (result: dict, files: dict[str, bytes])``. Finished jobs are stored in the run
directory (:meth:`topoml.rundir.RunDir.save_job`) as they complete and skipped when the run is
resumed, so a killed run loses at most the jobs in flight. Every job runs with one BLAS/torch thread,
in-process or in a worker, so results do not depend on the number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager

from tqdm.auto import tqdm

from topoml.errors import ConfigError
from topoml.parallel import worker_init
from topoml.rundir import RunDir

__all__ = ["run_jobs", "single_thread"]

def _init_worker(parent: int) -> None:
    worker_init(parent)  # one BLAS thread; exit if the parent dies
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - label-only installs
        pass


@contextmanager
def single_thread():
    """Run the body with one torch thread (restored afterwards)."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def run_jobs(
    rundir: RunDir,
    jobs: list[dict],
    worker: Callable[[dict], tuple[dict, dict[str, bytes]]],
    *,
    workers: int = 1,
    progress: bool = True,
    desc: str = "jobs",
) -> dict[str, dict]:
    """Run the unfinished ``jobs`` and return ``{job id: result}`` for all of them.

    Raises
    ------
    ConfigError
        Duplicate job ids or ``workers < 1``.
    """
    ids = [j["id"] for j in jobs]
    if len(set(ids)) != len(ids):
        raise ConfigError("job ids must be unique")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    results: dict[str, dict] = {}
    todo = []
    for j in jobs:
        r = rundir.job_result(j["id"])
        if r is None:
            todo.append(j)
        else:
            results[j["id"]] = r
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=desc, disable=not progress, unit="job")
    try:
        if workers == 1 or len(todo) <= 1:
            for j in todo:
                with single_thread():
                    res, files = worker(j)
                rundir.save_job(j["id"], res, files)
                results[j["id"]] = res
                bar.update()
        else:
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx, initializer=_init_worker,
                                     initargs=(os.getpid(),)) as ex:
                pending = {ex.submit(worker, j): j for j in todo}
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        j = pending.pop(fut)
                        res, files = fut.result()
                        rundir.save_job(j["id"], res, files)
                        results[j["id"]] = res
                        bar.update()
    finally:
        bar.close()
    return {i: results[i] for i in ids}
