"""One way to run independent tasks: :func:`map` ``(fn, tasks)`` on a serial, process-pool or Dask engine.

Every parallel job of topoml (dataset shards, experiment trainings, Bott-index chunks, Chern numbers)
runs here; the caller supplies a function and its tasks, and nothing here knows what they compute
(no import of data, invariants or torch)::

    from topoml.runs import map as run_map
    squares = run_map(pow2, range(100), workers=2, engine="process")   # fn must be importable

Engines
-------
``"serial"``
    The calling process, one task after the other (debugging; a job that owns one core).
``"process"``
    A ``spawn`` process pool (:class:`concurrent.futures.ProcessPoolExecutor`). Scripts need the
    ``if __name__ == "__main__":`` guard, and ``fn`` and the tasks must be picklable.
``"dask"``
    Dask distributed: a ``LocalCluster`` of single-threaded worker processes, or the running scheduler at
    ``scheduler_address`` (its workers need topoml installed and must see the files the tasks write).
    Needs the ``dask`` extra.

Guarantees
----------
* **One BLAS thread per worker.** Small dense linear algebra is fastest with one thread per process:
  workers start with :data:`THREAD_VARS` set to 1 in their environment (read when numpy loads), and
  every task runs inside :func:`single_thread` (``threadpoolctl`` for loaded BLAS/OpenMP libraries, and
  ``torch.set_num_threads(1)`` when torch is loaded), in the calling process too.
* **Results independent of the engine and the number of workers**: :func:`map` returns the results in
  task order, and a task sees the same thread settings everywhere, so a pure ``fn`` gives bit-identical
  results for any ``workers`` and engine (tested).
* **Safe Ctrl-C.** While a pool runs, SIGINT only sets a flag and :func:`map` raises
  ``KeyboardInterrupt`` itself at a safe point within 0.2 s (see :func:`deferred_sigint`); queued tasks
  are cancelled, running ones abandoned (the workers are terminated), finished ones have been handed to
  ``on_result``. Workers start with SIGINT blocked and then ignore it: a terminal's Ctrl-C reaches the
  whole process group and the parent decides what stops. ``topoml`` turns the ``KeyboardInterrupt``
  into a one-line message and exit status 130.
* **No orphans.** A worker exits as soon as the process that started it is gone (``kill -9``; a thread
  polls the parent PID, ``_watch_parent``).
* **Bounded queue.** At most ``2 * workers + 2`` tasks are submitted at a time (``workers``: the pool's
  processes, or the threads of the Dask cluster), so an interruption cancels instantly and millions of
  tasks do not sit in memory as futures.
* **Progress**: a tqdm bar (on stderr) counts each task's ``weight`` (default 1); a task may report
  partial progress with :func:`report_progress` (process and serial engines).
"""

from __future__ import annotations

import contextlib
import operator
import os
import queue as _queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Any, Literal

from topoml.errors import ConfigError

__all__ = [
    "ENGINES",
    "THREAD_VARS",
    "Executor",
    "blas_threads",
    "deferred_sigint",
    "map",
    "report_progress",
    "single_thread",
]

Engine = Literal["serial", "process", "dask"]
#: The engines of :func:`map`.
ENGINES: tuple[str, ...] = ("serial", "process", "dask")
#: Environment variables that set the thread count of the BLAS/OpenMP libraries.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_POLL = 0.2  # seconds between checks for Ctrl-C while tasks run


# ---------------------------------------------------------------------------------------------- threads


@contextlib.contextmanager
def _single_thread_env() -> Iterator[None]:
    """Set :data:`THREAD_VARS` to 1 for the body (while worker processes start), then restore them."""
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update({k: "1" for k in THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def blas_threads(limit: int | None = 1) -> Iterator[None]:
    """Limit the BLAS/OpenMP thread pools already loaded in this process for the body (``threadpoolctl``).

    Small dense eigenproblems (a Bott label of an 8×8 lattice) are 25–100× slower with OpenBLAS
    threads on a loaded machine than with one; the environment variables of :data:`THREAD_VARS`
    only act before numpy loads, so a running process needs this. ``limit=None`` changes nothing.
    """
    if limit is None:
        yield
        return
    with _controller().limit(limits=int(limit)):
        yield


def _controller():
    """A ``threadpoolctl.ThreadpoolController`` of the libraries loaded now (0.3 ms; not cached, so that a BLAS
    loaded later, such as MKL with pypardiso or torch's own inside a job, is limited too)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run the body with one BLAS/OpenMP thread and, when torch is loaded, one torch thread (restored after).

    torch is not imported here: a process that has not loaded it keeps it unloaded (a worker that
    imports torch inside the body gets one thread from :data:`THREAD_VARS` in its environment).
    """
    torch = sys.modules.get("torch")
    old = torch.get_num_threads() if torch is not None else None
    if torch is not None and old != 1:
        torch.set_num_threads(1)
    try:
        with blas_threads(1):
            yield
    finally:
        if torch is not None and old != 1:
            torch.set_num_threads(old)


# ---------------------------------------------------------------------------------------------- workers


def _parent_watch(parent: int, interval: float) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)  # orphaned: the parent died without shutting the pool down (kill -9, SIGTERM)


def _watch_parent(parent: int | None = None, interval: float = 0.5) -> threading.Thread:
    """End this process (``os._exit(1)``) as soon as its parent process is gone.

    A daemon thread polls ``os.getppid()`` every ``interval`` seconds: when the parent dies the process
    is re-parented (to PID 1 or a subreaper), the parent PID changes, and the process exits without
    running cleanup handlers (a half-written temporary file is removed by the next resume). Portable to
    every POSIX system, unlike ``PR_SET_PDEATHSIG``, which fires on the death of the parent *thread*.
    multiprocessing's resource tracker then sees its pipe close and exits too.

    Parameters
    ----------
    parent : int, optional
        PID of the parent to watch (default: the current parent). The pool passes ``os.getpid()`` of its
        creator, so that a parent that died before the worker started is noticed too.
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


# progress reporting of the running task: (task index, amount) -> None, set per engine
_report: Callable[[int, int], None] | None = None
_task: int | None = None


def report_progress(amount: int) -> None:
    """Report that the running task has done ``amount`` units of its weight (for the progress bar).

    Call it from inside a task (e.g. after each batch of a long task). Outside a :func:`map` task, and on
    the Dask engine (whose bar advances when a task finishes), it does nothing. The bar never counts more
    than a task's weight.
    """
    if _report is not None and _task is not None:
        _report(_task, int(amount))


def _worker_init(parent: int, progress_queue: Any = None) -> None:
    """Initializer of every pool worker: one BLAS thread, exit with the parent, progress, Ctrl-C ignored."""
    global _report
    os.environ.update({k: "1" for k in THREAD_VARS})  # before numpy loads: this module imports nothing that does
    _watch_parent(parent)
    if progress_queue is not None:
        progress_queue.cancel_join_thread()  # a stopped worker does not wait to deliver its last reports
        _report = lambda i, k: progress_queue.put((i, k))  # noqa: E731
    signal.signal(signal.SIGTERM, _stop_worker)
    # a terminal's Ctrl-C reaches the whole process group: the parent decides what to stop. The worker
    # was started with SIGINT blocked (see _sigint_blocked); ignore it, then unblock (drops a pending one).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _stop_worker(signum: int, frame: Any) -> None:
    """SIGTERM handler of a pool worker (the pool is being stopped): exit now, after multiprocessing's exit
    handlers, which unlink the semaphores this process created (tqdm's lock, for one). A worker killed
    without them leaves those to the resource tracker, which then warns on stderr at the parent's exit."""
    from multiprocessing import util

    try:
        util._exit_function()
    finally:
        os._exit(128 + signum)


def dask_setup(worker: Any) -> None:  # noqa: ARG001 - the signature of Dask's preload hook
    """Preload hook of the local Dask cluster's workers: Ctrl-C is left to the parent, as in the process pool.

    (Without it each Dask worker process would print its own ``KeyboardInterrupt`` traceback.)
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _call(fn: Callable[[Any], Any], index: int, task: Any) -> Any:
    """Run one task (in a worker or in the calling process): one thread, ``index`` for progress reports."""
    global _task
    outer, _task = _task, index
    try:
        with single_thread():
            return fn(task)
    finally:
        _task = outer


# ---------------------------------------------------------------------------------------------- Ctrl-C


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in the calling thread for the body.

    A spawned worker inherits the signal mask through fork and exec, so workers started here cannot be
    killed by a terminal's Ctrl-C while they import (before :func:`_worker_init` runs): such a death would
    break the pool. A SIGINT arriving meanwhile is not lost: another thread of this process takes it, or
    it stays pending until the mask is restored.
    """
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - non-POSIX
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def deferred_sigint() -> Iterator[Callable[[], bool]]:
    """Turn Ctrl-C into a flag for the body; yields ``interrupted()``, which the caller polls.

    Python raises ``KeyboardInterrupt`` at an arbitrary bytecode of the main thread. Inside
    ``concurrent.futures.wait`` that can be between the acquisitions of the futures' locks (its
    ``_AcquireFutures.__enter__`` has no cleanup), leaving some held for ever; the pool's manager thread
    then blocks on them and the interpreter hangs at exit. Here SIGINT only sets a flag, and the caller
    raises ``KeyboardInterrupt`` itself at a safe point. The previous handler is restored on exit. Only
    done in the main thread with Python's default handler installed; otherwise nothing changes (a
    background job's ignored SIGINT stays ignored).
    """
    flag = {"set": False}

    def handler(signum, frame) -> None:
        flag["set"] = True

    previous = None
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: signals are not delivered here anyway
        previous = None
    try:
        yield lambda: flag["set"]
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------------------------------------- pools


def _check(workers: Any, engine: Any, scheduler_address: str | None) -> tuple[int, str]:
    try:
        n = operator.index(workers)
    except TypeError:
        n = 0
    if isinstance(workers, bool) or n < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; use 'process', 'dask' or 'serial'")
    if scheduler_address and engine != "dask":
        raise ConfigError("a scheduler address needs engine='dask'")
    return n, engine


def _terminate(pool) -> None:
    """Stop a process pool now: its running tasks are abandoned, queued ones cancelled."""
    if hasattr(pool, "terminate_workers"):  # Python >= 3.14
        pool.terminate_workers()
    else:
        procs = list((getattr(pool, "_processes", None) or {}).values())  # earlier versions (before shutdown)
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():  # stuck in a long C call: the handler of SIGTERM never ran
                proc.kill()
                proc.join()
    manager = getattr(pool, "_executor_manager_thread", None)  # CPython's process pool (None: not started)
    pool.shutdown(wait=False, cancel_futures=True)
    if manager is not None:
        # The manager thread sees the dead workers and closes its wake-up pipe. Wait for it: closing it while
        # the interpreter exits races with CPython's exit hook, which writes to that pipe (Python < 3.12
        # prints an "OSError: Bad file descriptor" traceback after our one-line message).
        manager.join(timeout=30)


class Executor:
    """Workers kept for several :func:`map` calls (a context manager; :func:`map` makes one per call).

    Parameters
    ----------
    workers : int >= 1, default 1
        Worker processes (process engine; started on demand, at most one per task), or Dask workers of
        the local cluster. Ignored by the serial engine and by an existing Dask scheduler.
    engine : {"process", "dask", "serial"}, default "process"
    scheduler_address : str, optional
        A running Dask scheduler (``engine="dask"`` only).

    Raises
    ------
    ConfigError
        Bad ``workers`` or ``engine``, a scheduler address without ``engine="dask"``; on first use:
        ``dask`` not installed, an unreachable scheduler.

    Examples
    --------
    >>> with Executor(workers=2) as ex:          # doctest: +SKIP
    ...     a = ex.map(f, tasks_a)
    ...     b = ex.map(f, tasks_b)               # the same worker processes
    """

    def __init__(self, workers: int = 1, engine: Engine = "process", *, scheduler_address: str | None = None):
        self.workers, self.engine = _check(workers, engine, scheduler_address)
        self.scheduler_address = scheduler_address
        self._pool = None  # concurrent.futures-style executor (process pool or Dask's)
        self._queue = None  # progress reports of the process workers
        self._client = self._cluster = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close(abort=exc[0] is not None)

    # -- lifetime ------------------------------------------------------------------------------------
    def _start(self):
        if self._pool is not None:
            return self._pool
        if self.engine == "process":
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context("spawn")
            self._queue = ctx.Queue()
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                             initializer=_worker_init, initargs=(os.getpid(), self._queue))
        elif self.engine == "dask":
            self._pool = self._start_dask()
        return self._pool

    def _start_dask(self):
        try:
            import logging

            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("engine 'dask' needs dask[distributed]: pip install 'topoml[dask]'") from None
        tornado_log = logging.getLogger("tornado.application")
        if not any(isinstance(f, _DropCancelledFutures) for f in tornado_log.filters):
            tornado_log.addFilter(_DropCancelledFutures())
        if self.scheduler_address:
            try:
                self._client = Client(self.scheduler_address, timeout="10s")
            except (OSError, TimeoutError) as err:
                raise ConfigError(f"cannot reach the Dask scheduler at {self.scheduler_address}: {err}") from None
        else:
            # the worker processes start with one BLAS thread, and ignore Ctrl-C (preload: dask_setup)
            with _single_thread_env(), _sigint_blocked():
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None, silence_logs=logging.ERROR,
                                             preload=[__name__])
            self._client = Client(self._cluster)
        return self._client.get_executor(pure=False)

    def _width(self) -> int:
        """Tasks that run at once: the workers, or the threads of the Dask cluster (which may be larger)."""
        if self._client is not None:
            return max(self.workers, sum(self._client.nthreads().values()))
        return self.workers

    def close(self, abort: bool = False) -> None:
        """Shut the workers down (``abort``: at once, abandoning running tasks). Idempotent."""
        pool, self._pool = self._pool, None
        try:
            if pool is not None:
                if abort and self.engine == "process":
                    _terminate(pool)
                else:
                    pool.shutdown(wait=not abort)
        finally:
            if self._queue is not None:
                self._queue.close()
                self._queue = None
            client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()

    # -- work ----------------------------------------------------------------------------------------
    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any], **options: Any) -> list:
        """:func:`map` on these workers (same options, without ``workers``/``engine``/``executor``).

        A task's error or Ctrl-C stops the workers (the next call starts new ones) and is re-raised.
        """
        tasks = list(tasks)
        if self.engine == "serial" or not tasks:
            return _Run(tasks, **options).serial(fn)
        pool = self._start()  # process workers start on demand: at most one per task
        try:
            return _Run(tasks, **options).pool(fn, pool, self._width(), self._queue)
        except BaseException:
            self.close(abort=True)
            raise


class _DropCancelledFutures:
    """A logging filter for ``tornado.application``: drops the error (with a traceback) that tornado logs when a
    Dask future we cancelled (Ctrl-C, or a task's error) is cancelled while distributed still forwards it; whether
    it is logged depends on a race in the client's event loop, and it is no error of the user's."""

    def filter(self, record) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and type(exc).__name__ == "FutureCancelledError")


class _Run:
    """The bookkeeping of one :func:`map` call: results in task order, the progress bar, ``on_result``."""

    def __init__(self, tasks: Sequence, *, on_result: Callable[[int, Any], None] | None = None,
                 weight: Callable[[Any], int] | None = None, progress: bool = False, desc: str | None = None,
                 unit: str = "task", unit_scale: bool = False, total: int | None = None, initial: int = 0):
        self.tasks, self.on_result = tasks, on_result
        self.results: list = [None] * len(tasks)
        self.weights = [1 if weight is None else int(weight(t)) for t in tasks]
        self.reported = [0] * len(tasks)  # progress reported by each task so far (capped at its weight)
        self.done = [False] * len(tasks)
        self.bar = None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=initial + sum(self.weights) if total is None else total, initial=initial,
                            desc=desc, unit=unit, unit_scale=unit_scale, smoothing=0.1, dynamic_ncols=True)

    def report(self, i: int, k: int) -> None:
        if self.done[i] or self.bar is None:
            return
        k = max(0, min(k, self.weights[i] - self.reported[i]))
        self.reported[i] += k
        if k:
            self.bar.update(k)

    def finish(self, i: int, result: Any) -> None:
        self.results[i] = result
        if self.bar is not None:
            self.bar.update(self.weights[i] - self.reported[i])
        self.done[i] = True
        if self.on_result is not None:
            self.on_result(i, result)

    def serial(self, fn: Callable[[Any], Any]) -> list:
        global _report
        outer, _report = _report, self.report
        try:
            for i, task in enumerate(self.tasks):
                self.finish(i, _call(fn, i, task))
        finally:
            _report = outer
            self.close()
        return self.results

    def pool(self, fn: Callable[[Any], Any], pool, workers: int, progress_queue: Any = None, cancel: bool = False) -> list:
        """Run on a concurrent.futures-style ``pool`` of ``workers`` parallel slots, at most ``2 * workers + 2``
        tasks in flight; on an error or Ctrl-C, ``cancel`` the tasks in flight (else the pool's owner stops it)."""
        window = 2 * workers + 2

        def drain() -> None:
            while progress_queue is not None:
                try:
                    self.report(*progress_queue.get_nowait())
                except _queue.Empty:
                    return

        todo = iter(enumerate(self.tasks))
        pending: dict = {}
        try:
            with deferred_sigint() as interrupted:
                while True:
                    if interrupted():
                        raise KeyboardInterrupt
                    with _sigint_blocked(), _single_thread_env():  # submit() starts process workers on demand
                        for i, task in todo:
                            pending[pool.submit(_call, fn, i, task)] = i
                            if len(pending) >= window:
                                break
                    if not pending:
                        break
                    done, _ = wait(list(pending), timeout=_POLL, return_when=FIRST_COMPLETED)
                    drain()
                    if interrupted():  # before the results: a worker lost to the same Ctrl-C breaks the pool
                        raise KeyboardInterrupt
                    for fut in sorted(done, key=pending.__getitem__):
                        self.finish(pending.pop(fut), fut.result())  # re-raises a task's error here
            drain()
        except BaseException:
            for fut in pending if cancel else ():
                fut.cancel()
            raise
        finally:
            self.close()
        return self.results

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def map(  # noqa: A001 - the executor's map, like concurrent.futures.Executor.map
    fn: Callable[[Any], Any],
    tasks: Iterable[Any],
    *,
    workers: int = 1,
    engine: Engine = "process",
    scheduler_address: str | None = None,
    executor: Executor | Any | None = None,
    on_result: Callable[[int, Any], None] | None = None,
    weight: Callable[[Any], int] | None = None,
    progress: bool = False,
    desc: str | None = None,
    unit: str = "task",
    unit_scale: bool = False,
    total: int | None = None,
    initial: int = 0,
) -> list:
    """``[fn(t) for t in tasks]``, run on ``engine`` with ``workers`` processes (see the module docstring).

    Parameters
    ----------
    fn : callable
        ``fn(task) -> result``; an importable top-level function for the process and Dask engines. A pure
        function of its task (seeds inside the task) gives results independent of engine and workers.
    tasks : iterable
        The tasks (picklable for the process and Dask engines).
    workers : int >= 1, default 1
        Worker processes (at most one per task); ignored by the serial engine.
    engine : {"process", "dask", "serial"}, default "process"
        Taken literally: ``"process"`` with ``workers=1`` runs one worker process.
    scheduler_address : str, optional
        A running Dask scheduler (``engine="dask"``).
    executor : Executor or concurrent.futures.Executor, optional
        Run on these workers instead (``workers``, ``engine`` and ``scheduler_address`` are then ignored):
        an :class:`Executor` kept for several calls, or any ``concurrent.futures`` executor (e.g.
        ``distributed.Client(addr).get_executor()``; then only the calling process's threads are limited
        by topoml, and the executor is left running after an error).
    on_result : callable, optional
        ``on_result(index, result)``, called in the calling process as each task finishes (in completion
        order): store results as they come, so an interrupted run keeps them.
    weight : callable, optional
        ``weight(task) -> int``, the task's share of the progress bar (default 1).
    progress : bool, default False
        Show a tqdm bar on stderr with ``desc``, ``unit``, ``unit_scale``; ``total`` (default
        ``initial`` + the sum of the weights) and ``initial`` (work already done, e.g. by a resumed run).

    Returns
    -------
    list
        ``fn(task)`` for each task, in task order.

    Raises
    ------
    ConfigError
        Bad ``workers``/``engine``, a scheduler without ``engine="dask"``, Dask not installed, an
        unreachable scheduler.
    KeyboardInterrupt
        Ctrl-C (the workers are stopped first; finished tasks have been passed to ``on_result``).
    Exception
        The first error a task raised (the other tasks are stopped).
    """
    options = dict(on_result=on_result, weight=weight, progress=progress, desc=desc, unit=unit,
                   unit_scale=unit_scale, total=total, initial=initial)
    if executor is None:
        with Executor(workers, engine, scheduler_address=scheduler_address) as ex:
            return ex.map(fn, tasks, **options)
    if isinstance(executor, Executor):
        return executor.map(fn, tasks, **options)
    if not hasattr(executor, "submit"):
        raise ConfigError(f"executor must be a topoml.runs.Executor or a concurrent.futures executor, "
                          f"got {type(executor).__name__}")
    tasks = list(tasks)
    window = getattr(executor, "_max_workers", None) or max(1, len(tasks))  # unknown size: submit them all
    with single_thread():  # the calling process's share (a thread pool runs here)
        return _Run(tasks, **options).pool(fn, executor, int(window), cancel=True)
