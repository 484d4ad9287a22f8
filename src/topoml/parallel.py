"""One BLAS thread per worker process (tier 0; no torch import).

Small dense linear algebra is fastest with one BLAS thread per process and process-level
parallelism. Worker processes read the thread variables when numpy loads, so they must be in the
environment *before* a spawned worker starts: use :func:`single_thread_env` around pool creation and
:func:`set_single_thread_env` in pool initializers.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["THREAD_VARS", "set_single_thread_env", "single_thread_env"]

#: Environment variables that set the thread count of the BLAS/OpenMP libraries.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def set_single_thread_env() -> None:
    """Set every variable of :data:`THREAD_VARS` to ``"1"`` in this process's environment."""
    os.environ.update({k: "1" for k in THREAD_VARS})


@contextlib.contextmanager
def single_thread_env() -> Iterator[None]:
    """Set :data:`THREAD_VARS` to 1 for the body (e.g. while a spawn pool starts), then restore them."""
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    set_single_thread_env()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
