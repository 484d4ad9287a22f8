"""Worker processes: one BLAS thread each, and no orphans (tier 0; no torch import).

Small dense linear algebra is fastest with one BLAS thread per process and process-level
parallelism. Worker processes read the thread variables when numpy loads, so they must be in the
environment *before* a spawned worker starts: use :func:`single_thread_env` around pool creation and
:func:`set_single_thread_env` in pool initializers. In the calling process, where the variables are
read too late, :func:`blas_threads` limits the loaded BLAS/OpenMP libraries at run time
(``threadpoolctl``).

A worker must not outlive the process that started it (``kill -9`` of ``topoml generate`` would leave
the workers computing, and multiprocessing's resource tracker waiting for them, under PID 1):
:func:`worker_init` (the initializer of every topoml pool) starts :func:`watch_parent`, which ends the
worker once its parent is gone; the resource tracker then sees its pipe close and exits too.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator

__all__ = ["THREAD_VARS", "blas_threads", "set_single_thread_env", "single_thread_env", "watch_parent",
           "worker_init"]

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


def _parent_watch(parent: int, interval: float) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)  # orphaned: the parent died without shutting the pool down (kill -9, SIGTERM)


def watch_parent(parent: int | None = None, interval: float = 0.5) -> threading.Thread:
    """End this process (``os._exit(1)``) as soon as its parent process is gone.

    A daemon thread polls ``os.getppid()`` every ``interval`` seconds: when the parent dies the process
    is re-parented (to PID 1 or a subreaper), the parent PID changes, and the process exits without
    running cleanup handlers (a half-written temporary file is removed by the next resume). Portable to
    every POSIX system, unlike ``PR_SET_PDEATHSIG``, which fires on the death of the parent *thread*.

    Parameters
    ----------
    parent : int, optional
        PID of the parent to watch (default: the current parent). Pass ``os.getpid()`` of the pool's
        creator as an initializer argument, so that a parent that died before the worker started is
        noticed too.
    interval : float, default 0.5
        Seconds between checks.

    Returns
    -------
    threading.Thread
        The (daemon) watcher thread.
    """
    parent = os.getppid() if parent is None else int(parent)
    t = threading.Thread(target=_parent_watch, args=(parent, interval), name="topoml-watch-parent", daemon=True)
    t.start()
    return t


def worker_init(parent: int | None = None) -> None:
    """Initializer of a topoml worker process: one BLAS thread, and exit when ``parent`` dies."""
    set_single_thread_env()
    watch_parent(parent)


@contextlib.contextmanager
def blas_threads(limit: int | None = 1) -> Iterator[None]:
    """Limit the BLAS/OpenMP thread pools already loaded in this process for the body (``threadpoolctl``).

    Small dense eigenproblems (a Bott label of an 8×8 lattice) are 25–100× slower with OpenBLAS
    threads on a loaded machine than with one; the environment variables of :func:`single_thread_env`
    only act before numpy loads, so the calling process needs this. ``limit=None`` changes nothing.
    """
    if limit is None:
        yield
        return
    with _controller().limit(limits=int(limit)):
        yield


_CONTROLLER = None


def _controller():
    """One ``threadpoolctl.ThreadpoolController`` per process (listing the loaded libraries costs ~1 ms;
    a new one is made after a fork)."""
    global _CONTROLLER
    if _CONTROLLER is None or _CONTROLLER[0] != os.getpid():
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = (os.getpid(), ThreadpoolController())
    return _CONTROLLER[1]
