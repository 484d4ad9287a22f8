"""Speed of the Bott-index labels (topoml.invariants.bott) — a script, not a test.

    python benchmarks/bench_bott.py [--quick]

Prints one table:

* labels/s for 4×4 and 8×8 lattices with one and with two worker processes (one BLAS thread each),
  and, timed interleaved in one worker, the time per label against the LAPACK calls alone (``dgehrd`` +
  ``dorghr``, ``gesdd``, ``zgeev`` on the same lattices): the upper bound on the rate with this algorithm;
* for N = 16, 24, 32: time per label against the two dense decompositions a label needs, timed in
  the same worker (``scipy.linalg.eigh`` of the 2N²×2N² BdG matrix, all eigenpairs, and
  ``scipy.linalg.eigvals`` of the N²×N² matrix ``V U V† U†``); target ratio <= 1.3;
* against pybott (GPL; imported here only, never by ``topoml``) on the same lattices: its own pipeline
  (``numpy.linalg.eigh`` → ``compute_uv`` → ``bott_matrix(dagger=True)``, positions periodic with
  ``lx = ly = N``; ``pybott.bott`` itself would use ``lx = N − 1``): labels must agree (pybott's value is
  minus ours, it uses ``U V U† V†``) and the speed ratio. pybott's default ``dagger=False`` uses
  ``U V U⁻¹ V⁻¹``, a different quantity on small lattices (it disagrees on ~15 % of random 4×4 samples).

Lattices follow ``docs/conventions-margalit2022.md``: averages μ̄ ∈ [−4, 4], t̄₋ ∈ [−2, 2],
Δ̄ ∈ [0.1, 0.2], uniform zero-mean disorder of full widths (0.3·N/4, 0.2, 0.05). The machine is shared:
the load average is printed before and after, and timings are the best of the repeats.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np


def _apply(task: tuple):
    """``fn(*args)`` for ``task = (fn, *args)``: runs a benchmark function in a single-thread worker process."""
    fn, *args = task
    return fn(*args)


def lattices(N: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    avg = np.stack([rng.uniform(-4, 4, n), rng.uniform(-2, 2, n), rng.uniform(0.1, 0.2, n)], -1)
    dis = rng.uniform(-0.5, 0.5, (n, N, N, 3)) * np.array([0.3 * N / 4, 0.2, 0.05])
    dis -= dis.mean(axis=(1, 2), keepdims=True)
    return avg[:, None, None, :] + dis


# ------------------------------------------------------------------------------ worker tasks


def _throughput(N: int, n: int, seed: int) -> tuple[float, np.ndarray]:
    """Labels/s of one batch in this (single-thread) process."""
    from topoml.invariants.bott import bott_index

    x = lattices(N, n, seed)
    bott_index(x[: min(n, 64)], on_gapless="flag")  # warm-up
    t = time.perf_counter()
    r = bott_index(x, on_gapless="flag")
    return n / (time.perf_counter() - t), r.label


def _lapack_floor(N: int, n: int, seed: int, repeats: int = 3) -> dict:
    """Seconds per label of the full batched pipeline and of its LAPACK calls alone, interleaved.

    The LAPACK calls are those a label makes, on the same lattices: ``dgehrd`` + ``dorghr`` of the
    2N²×2N² Majorana matrix, the batched SVD (``gesdd``) of the N²×N² bidiagonal block and the batched
    ``zgeev`` of V U V† U†. Their sum bounds the rate from above with the present algorithm.
    """
    from scipy.linalg import lapack

    from topoml.hamiltonians.pip import majorana_hamiltonian
    from topoml.invariants import bott as B

    x = lattices(N, n, seed)
    nn, m = N * N, 2 * N * N
    lwork = B._lwork(m)
    K = majorana_hamiltonian(x)
    Qt = K.copy()  # as in _bott_batch: the reduction leaves Qᵀ in the buffer
    T = np.array([B._householder(Qt[s].T, lwork) for s in range(n)])
    Bd = np.zeros((n, nn, nn))
    a = np.arange(nn)
    Bd[:, a, a] = T[:, 0::2]
    Bd[:, a[1:], a[:-1]] = T[:, 1::2]
    U, _, Vh = np.linalg.svd(Bd)
    r = 1.0 / np.sqrt(2.0)
    W = B._states_from_tridiagonal(np.swapaxes(Qt, -1, -2), r * U, -r * np.swapaxes(Vh, -1, -2))
    px, py = B._phases(N)
    Wh = np.conj(np.swapaxes(W, -1, -2))
    Uo, Vo = Wh @ (px[:, None] * W), Wh @ (py[:, None] * W)
    M = (Vo @ Uo) @ np.conj(np.swapaxes(Uo @ Vo, -1, -2))
    raw = np.angle(np.linalg.eigvals(M)).sum(axis=-1) / (2 * np.pi)
    if np.mean(np.rint(raw) == np.rint(B._bott_batch(x)[0])) < 0.99:  # the matrices timed are the label's
        raise AssertionError("LAPACK-floor inputs do not reproduce the labels")
    chunk = B._chunk_size(N)

    def householder() -> None:
        for s in range(n):
            hq, tau, _ = lapack.dgehrd(K[s].T, lwork=lwork, overwrite_a=0)
            lapack.dorghr(hq, tau, lwork=lwork, overwrite_a=1)

    stages = {
        "label": lambda: [B._bott_batch(x[i:i + chunk]) for i in range(0, n, chunk)],
        "dgehrd+dorghr": householder,
        "svd": lambda: [np.linalg.svd(Bd[i:i + chunk]) for i in range(0, n, chunk)],
        "zgeev": lambda: [np.linalg.eigvals(M[i:i + chunk]) for i in range(0, n, chunk)],
    }
    best = dict.fromkeys(stages, np.inf)
    for _ in range(repeats):
        for k, f in stages.items():
            t = time.perf_counter()
            f()
            best[k] = min(best[k], (time.perf_counter() - t) / n)
    return best


def _large(N: int, repeats: int, seed: int) -> dict:
    """Time per label and of the two dense decompositions, same process, best of ``repeats``."""
    import scipy.linalg as sla

    from topoml.hamiltonians.pip import bdg_hamiltonian, site_positions
    from topoml.invariants.bott import bott_index

    x = lattices(N, 1, seed)[0]
    n = N * N
    H = bdg_hamiltonian(x)
    X, Y = site_positions(N)
    px, py = np.exp(2j * np.pi * np.r_[X, X] / N), np.exp(2j * np.pi * np.r_[Y, Y] / N)
    best = {"label": np.inf, "eigh": np.inf, "eigvals": np.inf}
    for _ in range(repeats):
        t = time.perf_counter()
        r = bott_index(x, on_gapless="flag")
        best["label"] = min(best["label"], time.perf_counter() - t)
        t = time.perf_counter()
        E, W = sla.eigh(H)
        best["eigh"] = min(best["eigh"], time.perf_counter() - t)
        W = W[:, :n]
        U = W.conj().T @ (px[:, None] * W)
        V = W.conj().T @ (py[:, None] * W)
        M = V @ U @ V.conj().T @ U.conj().T
        t = time.perf_counter()
        lam = sla.eigvals(M)
        best["eigvals"] = min(best["eigvals"], time.perf_counter() - t)
        del W, U, V, M
    ref = np.angle(lam).sum() / (2 * np.pi)
    best["same_label"] = bool(np.rint(ref) == r.label)
    best["label_value"] = int(r.label)
    return best


def _pybott_value(x: np.ndarray) -> float:
    from pybott.bott import bott_matrix, compute_uv

    from topoml.hamiltonians.pip import bdg_hamiltonian, site_positions

    N = x.shape[0]
    n = N * N
    perm = np.empty(2 * n, dtype=int)
    perm[0::2], perm[1::2] = np.arange(n), np.arange(n, 2 * n)  # pybott: a site's orbitals adjacent
    H = bdg_hamiltonian(x)[np.ix_(perm, perm)]
    if not np.allclose(H, H.conj().T):  # as pybott.bott does
        raise ValueError("not Hermitian")
    evals, evects = np.linalg.eigh(H)
    k = int(np.searchsorted(evals, 0.0))
    X, Y = site_positions(N)
    u, v = compute_uv(np.stack([X, Y], 1).astype(float), evects, k, 2, lx=N, ly=N)
    return float(bott_matrix(u, v, dagger=True))


def _vs_pybott(N: int, n: int, seed: int) -> dict:
    from topoml.invariants.bott import bott_index

    x = lattices(N, n, seed)
    bott_index(x[:1], on_gapless="flag")
    _pybott_value(x[0])  # warm-up
    t = time.perf_counter()
    ours = bott_index(x, on_gapless="flag").label
    t_ours = (time.perf_counter() - t) / n
    t = time.perf_counter()
    theirs = np.rint([-_pybott_value(xi) for xi in x]).astype(np.int64)
    t_theirs = (time.perf_counter() - t) / n
    return {"ours": t_ours, "pybott": t_theirs, "agree": int(np.sum(ours == theirs)), "n": n}


# ------------------------------------------------------------------------------ main


def fmt_time(s: float) -> str:
    return f"{s * 1e6:.0f} µs" if s < 1e-3 else f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller batches, N <= 24 and no pybott at N = 32")
    args = ap.parse_args()
    quick = args.quick

    import scipy

    from topoml.invariants.bott import bott_index
    from topoml.runs import Executor

    try:
        import pybott  # noqa: F401

        have_pybott = True
    except ImportError:
        have_pybott = False

    print(f"# bench_bott {'--quick' if quick else ''}  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}, scipy {scipy.__version__}; load average {os.getloadavg()[0]:.2f} "
          "(shared machine)")
    rows: list[tuple[str, str, str, str, str]] = []  # case, ours, reference, ratio, target/ok
    t_start = time.perf_counter()

    # throughput, 1 and 2 workers (one BLAS thread each)
    sizes = {4: 6_000 if quick else 40_000, 8: 300 if quick else 2_000}
    for N, n in sizes.items():
        with Executor(1) as ex:
            rate1, _ = ex.map(_apply, [(_throughput, N, max(n // 4, 64), 1)])[0]
        x = lattices(N, n, 10 + N)
        with Executor(2) as ex:
            bott_index(x[:256], executor=ex, on_gapless="flag")  # warm-up: imports, LAPACK workspaces
            t = time.perf_counter()
            bott_index(x, executor=ex, on_gapless="flag")
            wall = time.perf_counter() - t
        rate2 = n / wall
        target = 10_000 if N == 4 else 500
        with Executor(1) as ex:
            fl = ex.map(_apply, [(_lapack_floor, N, 1024 if N == 4 else 48, 20 + N)])[0]
        floor = fl["dgehrd+dorghr"] + fl["svd"] + fl["zgeev"]
        rows.append((f"{N}×{N} labels/s, 1 worker", f"{rate1:,.0f}/s", "", "", ""))
        rows.append((f"{N}×{N} labels/s, 2 workers", f"{rate2:,.0f}/s", f"target {target:,}/s",
                     f"{rate2 / target:.2f}", "ok" if rate2 >= target else "MISSED"))
        rows.append((
            f"{N}×{N} per label vs LAPACK alone",
            fmt_time(fl["label"]),
            f"dgehrd+dorghr {fmt_time(fl['dgehrd+dorghr'])} + svd {fmt_time(fl['svd'])} + zgeev {fmt_time(fl['zgeev'])}",
            f"{fl['label'] / floor:.2f}",
            f"LAPACK bound, 2 workers: {2 / floor:,.0f}/s",
        ))

    # large N: time per label vs the two dense decompositions, same single-thread worker
    large = [(16, 2), (24, 1)] if quick else [(16, 3), (24, 2), (32, 1)]
    with Executor(1) as ex:
        for N, rep in large:
            b = ex.map(_apply, [(_large, N, rep, 100 + N)])[0]
            base = b["eigh"] + b["eigvals"]
            ratio = b["label"] / base
            rows.append((
                f"N={N} time per label",
                fmt_time(b["label"]),
                f"eigh {fmt_time(b['eigh'])} + eigvals {fmt_time(b['eigvals'])}",
                f"{ratio:.2f}",
                ("ok" if ratio <= 1.3 else "MISSED") + ("" if b["same_label"] else ", LABEL DIFFERS"),
            ))

    # pybott on the same lattices
    if have_pybott:
        cases = [(4, 100, "batch"), (8, 8, ""), (16, 1, "")] if quick else [(4, 500, "batch"), (8, 30, ""), (16, 2, ""), (32, 1, "")]
        with Executor(1) as ex:
            for N, n, note in cases:
                p = ex.map(_apply, [(_vs_pybott, N, n, 200 + N)])[0]
                rows.append((
                    f"pybott N={N}{' (' + note + ')' if note else ''}, {p['n']} lattices",
                    f"{fmt_time(p['ours'])}/label",
                    f"pybott {fmt_time(p['pybott'])}/label",
                    f"{p['pybott'] / p['ours']:.1f}× faster",
                    f"labels agree {p['agree']}/{p['n']}",
                ))
    else:
        rows.append(("pybott", "not installed", "", "", "skipped"))

    head = ("case", "topoml", "reference", "ratio", "target / check")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print(line)
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print(line)
    print(f"# total {time.perf_counter() - t_start:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
