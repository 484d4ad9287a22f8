"""Task functions for the run-engine tests (importable by spawned and Dask workers and by child scripts)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from topoml.errors import InputError
from topoml.runs.executor import report_progress


def spectrum(seed: int) -> np.ndarray:
    """BLAS/LAPACK work whose bits depend on the thread count if anything does: eigenvalues of a product."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((120, 120))
    return np.linalg.eigvalsh(a @ a.T + np.eye(120)) + float(a.sum())


def blas_threads_seen(_: object) -> dict:
    """Thread settings a task sees: the environment, the loaded BLAS pools and torch (if loaded)."""
    import sys

    from threadpoolctl import threadpool_info

    return {"env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
            "blas": sorted({d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"}),
            "torch": sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None}


def torch_threads(_: object) -> int:
    import torch

    return torch.get_num_threads()


def pid(_: object) -> int:
    time.sleep(0.05)
    return os.getpid()


def reporting(n: int) -> int:
    """Reports 1 unit n times, then 5 more (over-reporting: the bar must cap it at the task's weight)."""
    for _ in range(n):
        report_progress(1)
    report_progress(5)
    return n


def fail_on_three(k: int) -> int:
    if k == 3:
        raise InputError("task 3 failed")
    time.sleep(0.05)
    return k


def slow_square(k: int) -> int:
    time.sleep(0.2)
    return k * k


def slow_job(job: dict) -> tuple[dict, dict[str, bytes]]:
    """A RunDir job: records the call (``calls/<id>.<pid>``), sleeps, returns a result and one file."""
    calls = Path(job["calls"])
    calls.mkdir(parents=True, exist_ok=True)
    (calls / f"{job['id']}.{os.getpid()}.{time.monotonic_ns()}").touch()
    time.sleep(job["sleep"])
    value = float(spectrum(job["seed"]).sum())
    return {"id": job["id"], "value": value}, {"weights.bin": np.float64(value).tobytes() * 1000}
