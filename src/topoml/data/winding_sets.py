"""Labelled data sets of 1D chiral Hamiltonians for learning winding numbers (Zhang et al. 2018).

Every set is returned as a :class:`WindingSet`: the network input ``h̃`` of shape ``(n, L+1, 2)``
(float32, normalized, paper Eq. 1) and the winding number of Eq. 3 (int64). Only Hamiltonians whose
sampling the discrete formula can be trusted on are kept (:func:`~topoml.invariants.winding_diagnostics`;
gapless or ``|Δθ| > max_step`` samples are redrawn), so every label is the true winding number of the
sampled loop. Sets that claim a set of winding numbers contain exactly those (redrawn otherwise).

Sets of the paper:

* training / validation / test (i): :func:`fourier_set`, cutoff ``c = 4``, ``|w| <= 2``, class mix
  37 % ``w = 0``, 50 % ``±1``, 13 % ``±2`` (exact quotas);
* test (ii): :func:`wind_unwind_set` (Eq. 8), always ``w = 0``;
* test (i) as the paper draws it: :func:`continuum_fourier_set`, every uniform ``c = 4`` Hamiltonian
  with ``|w| <= 2`` kept (natural class mix), labelled by the continuum winding number
  (:func:`continuum_winding`, densely sampled), so that no sample is redrawn;
* tests (iii), (iv): :func:`prescribed_winding_set` with ``w = ±3`` / ``±4`` (Fourier, cutoff 4);
* the SSH shortcut: :func:`ssh_set`, ``(t − t')/t`` uniform in ``[−10, 10]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Mapping

import numpy as np

from topoml.errors import InputError
from topoml.hamiltonians import chiral1d
from topoml.invariants.winding import DEFAULT_MAX_STEP, winding_diagnostics
from topoml.rng import RngLike, as_generator

__all__ = [
    "PAPER_CLASS_MIX",
    "WindingSet",
    "fourier_set",
    "continuum_winding",
    "continuum_fourier_set",
    "wind_unwind_set",
    "prescribed_winding_set",
    "ssh_set",
    "add_label_noise",
]

#: Fraction of training Hamiltonians per |w| in the paper (37 % w = 0, 50 % ±1, 13 % ±2).
PAPER_CLASS_MIX: dict[int, float] = {0: 0.37, 1: 0.50, 2: 0.13}

_MAX_DRAWS = 2000  # safety bound on rejection rounds


@dataclass(frozen=True)
class WindingSet:
    """A labelled set: ``x`` float32 of shape (n, L+1, 2) (``h̃``), ``w`` int64 of shape (n,)."""

    x: np.ndarray
    w: np.ndarray
    name: str = ""
    trusted_fraction: float = 1.0  # fraction of drawn Hamiltonians on which Eq. 3 could be trusted

    def __len__(self) -> int:
        return len(self.w)

    def counts(self) -> dict[int, int]:
        """Number of samples per winding number."""
        vals, cnt = np.unique(self.w, return_counts=True)
        return {int(v): int(c) for v, c in zip(vals, cnt)}


def _check_n(n: int) -> int:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise InputError(f"set size must be a positive integer, got {n!r}")
    return int(n)


def _quotas(n: int, mix: Mapping[int, float]) -> dict[int, int]:
    if not mix or any(f < 0 for f in mix.values()) or sum(mix.values()) <= 0:
        raise InputError(f"class mix must have non-negative fractions summing to > 0, got {dict(mix)}")
    if any(int(a) != a or a < 0 for a in mix):
        raise InputError(f"class mix keys are |w| values (non-negative integers), got {list(mix)}")
    total = sum(mix.values())
    keys = sorted(mix)
    q = {a: int(np.floor(n * mix[a] / total)) for a in keys}
    # largest remainders get the left-over samples, deterministically
    rem = sorted(keys, key=lambda a: -(n * mix[a] / total - q[a]))
    for a in rem[: n - sum(q.values())]:
        q[a] += 1
    return q


def _fill(
    draw: Callable[[np.random.Generator, int], np.ndarray],
    n: int,
    gen: np.random.Generator,
    accept: Callable[[np.ndarray], np.ndarray] | None,
    max_step: float,
    name: str,
    quotas: dict[int, int] | None = None,
) -> WindingSet:
    """Draw Hamiltonians until ``n`` are kept: trusted, ``accept(w)`` true, and (if ``quotas`` per |w|
    are given) of a class that still needs samples."""
    quotas = dict(quotas) if quotas is not None else None
    xs: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    have = 0
    drawn = 0
    trusted = 0
    for _ in range(_MAX_DRAWS):
        if have >= n:
            break
        m = max(256, 2 * (n - have))
        h = draw(gen, m)
        drawn += m
        d = winding_diagnostics(h, max_step=max_step)
        keep = d.valid.copy()
        trusted += int(keep.sum())
        if accept is not None:
            keep &= accept(d.winding)
        if quotas is not None:
            a = np.abs(d.winding)
            keep &= np.isin(a, list(quotas))
            idx = np.flatnonzero(keep)
            keep[:] = False
            for cls, need in quotas.items():
                sel = idx[a[idx] == cls][:need]
                keep[sel] = True
                quotas[cls] -= len(sel)
        sel = np.flatnonzero(keep)[: n - have]
        xs.append(chiral1d.normalize(h[sel]).astype(np.float32))
        ws.append(d.winding[sel])
        have += len(sel)
    if have < n:
        raise InputError(f"could not draw {n} Hamiltonians for set '{name}' after {drawn} draws; relax its constraints")
    x = np.concatenate(xs)
    w = np.concatenate(ws)
    perm = gen.permutation(n)
    return WindingSet(x=x[perm], w=w[perm], name=name, trusted_fraction=trusted / drawn)


def fourier_set(
    n: int,
    *,
    c: int = 4,
    L: int = 32,
    class_mix: Mapping[int, float] | None = PAPER_CLASS_MIX,
    max_abs_w: int = 2,
    allowed: tuple[int, ...] | None = None,
    max_step: float = DEFAULT_MAX_STEP,
    rng: RngLike = None,
    name: str = "fourier",
) -> WindingSet:
    """Random Fourier Hamiltonians (paper Eq. 7, coefficients uniform in [−1, 1]) with their winding.

    Parameters
    ----------
    n : int
        Number of Hamiltonians.
    c : int, default 4
        Fourier cutoff.
    L : int, default 32
        k intervals (input has L+1 points).
    class_mix : mapping |w| -> fraction, or None
        Exact quotas per ``|w|`` (rounded, summing to ``n``); ``None`` keeps the natural distribution of
        the family restricted to ``|w| <= max_abs_w`` (the paper's c = 2 supplement).
    max_abs_w : int
        Largest ``|w|`` kept when ``class_mix`` is None.
    allowed : tuple of int, optional
        Keep only these winding numbers (signed), e.g. ``(0, 1)``; quotas then apply among them.
    max_step : float
        Trust threshold of the discrete formula (radians).
    rng : int, Generator or None

    Returns
    -------
    WindingSet
    """
    n = _check_n(n)
    gen = as_generator(rng)
    if allowed is not None:
        allowed_arr = np.asarray(allowed, dtype=np.int64)
        accept = lambda w: np.isin(w, allowed_arr)  # noqa: E731
    elif class_mix is None:
        accept = lambda w: np.abs(w) <= max_abs_w  # noqa: E731
    else:
        accept = None
    quotas = _quotas(n, class_mix) if class_mix is not None else None
    return _fill(lambda g, m: chiral1d.random_fourier(m, c, L, g), n, gen, accept, max_step, name, quotas)


#: k-grid sizes of :func:`continuum_winding`: every sample is sampled on the first, then refined.
CONTINUUM_LEVELS: tuple[int, ...] = (512, 8192, 131072)


def continuum_winding(
    coef: np.ndarray, *, levels: tuple[int, ...] = CONTINUUM_LEVELS, refine_above: float = 0.5 * np.pi
) -> tuple[np.ndarray, np.ndarray]:
    """Continuum winding number of Fourier Hamiltonians (paper Eq. 2), by dense adaptive sampling.

    Eq. 3 is evaluated on ``levels[0] + 1`` points of ``k ∈ [0, 2π]``; samples whose largest phase step
    exceeds ``refine_above`` (a zero of ``h_x + i h_y`` close to the unit circle) are re-evaluated on
    the next, finer level. A label is exact once every true phase step between neighbouring points
    is below π; ``refine_above = π/2`` leaves a factor 2 of margin.

    Parameters
    ----------
    coef : ndarray of shape (n, 2, 2, c+1)
        Fourier coefficients as returned by :func:`topoml.hamiltonians.chiral1d.fourier_coefficients`.
    levels : tuple of int
        Increasing k-grid sizes.
    refine_above : float
        Phase step (radians, in (0, π)) above which a sample is refined.

    Returns
    -------
    winding : ndarray of int64, shape (n,)
    max_step : ndarray of float64, shape (n,)
        Largest phase step on the finest grid the sample was evaluated on (below ``refine_above``
        except for the rare samples with a zero closer to the circle than the finest grid resolves).

    Raises
    ------
    InputError
        Bad ``coef`` shape, empty ``levels`` or ``refine_above`` outside (0, π).
    """
    if not levels or not (0 < refine_above < np.pi):
        raise InputError(f"need at least one level and 0 < refine_above < π, got {levels}, {refine_above}")
    coef = np.asarray(coef, dtype=np.float64)
    n = len(coef)
    w = np.zeros(n, dtype=np.int64)
    step = np.full(n, np.pi)
    todo = np.arange(n)
    for L_dense in levels:
        if len(todo) == 0:
            break
        d = winding_diagnostics(chiral1d.fourier_hamiltonian(coef[todo], L_dense), max_step=refine_above)
        w[todo] = d.winding
        step[todo] = d.max_step
        todo = todo[~d.valid]
    return w, step


def continuum_fourier_set(
    n: int,
    *,
    c: int = 4,
    L: int = 32,
    max_abs_w: int = 2,
    levels: tuple[int, ...] = CONTINUUM_LEVELS,
    rng: RngLike = None,
    name: str = "fourier_continuum",
) -> WindingSet:
    """Test (i) as the paper draws it: uniform Fourier Hamiltonians (Eq. 7), none redrawn.

    Every drawn Hamiltonian whose continuum winding number (:func:`continuum_winding`) has
    ``|w| <= max_abs_w`` is kept, whatever its sampling on the ``L + 1`` input points: phase steps
    larger than 0.75π, or an input loop whose discrete winding (Eq. 3) differs from the label, stay in
    the set. The class mix is the natural one of the family (36 / 50 / 14 % for ``|w|`` = 0 / 1 / 2 at
    ``c = 4``, close to the paper's 37 / 50 / 13 %).

    Returns
    -------
    WindingSet
        ``trusted_fraction`` is the fraction of kept samples on which Eq. 3 on the input grid is
        trusted (every ``|Δθ| <= 0.75π``).
    """
    n = _check_n(n)
    gen = as_generator(rng)
    xs, ws_, trusted = [], [], []
    have = 0
    for _ in range(_MAX_DRAWS):
        if have >= n:
            break
        coef = chiral1d.fourier_coefficients(max(256, int(1.1 * (n - have))), c, gen)
        w, _ = continuum_winding(coef, levels=levels)
        sel = np.flatnonzero(np.abs(w) <= max_abs_w)[: n - have]
        h = chiral1d.fourier_hamiltonian(coef[sel], L)
        xs.append(chiral1d.normalize(h).astype(np.float32))
        ws_.append(w[sel])
        trusted.append(winding_diagnostics(h).valid)
        have += len(sel)
    if have < n:  # pragma: no cover - |w| <= 2 is the bulk of the family
        raise InputError(f"could not draw {n} Hamiltonians for set '{name}'")
    perm = gen.permutation(n)
    x, w = np.concatenate(xs)[perm], np.concatenate(ws_)[perm]
    return WindingSet(x=x, w=w, name=name, trusted_fraction=float(np.concatenate(trusted).mean()))


def wind_unwind_set(
    n: int, *, c: int = 4, L: int = 32, max_step: float = DEFAULT_MAX_STEP, rng: RngLike = None, name: str = "wind_unwind"
) -> WindingSet:
    """Test (ii): Hamiltonians that wind and unwind (paper Eq. 8); every label is 0."""
    n = _check_n(n)
    gen = as_generator(rng)
    return _fill(
        lambda g, m: chiral1d.wind_unwind(m, c, L, g, max_step=max_step), n, gen, lambda w: w == 0, max_step, name
    )


def prescribed_winding_set(
    n: int,
    windings: tuple[int, ...],
    *,
    c: int = 4,
    L: int = 32,
    max_step: float = DEFAULT_MAX_STEP,
    rng: RngLike = None,
    name: str = "prescribed",
) -> WindingSet:
    """Fourier Hamiltonians (cutoff ``c``) with winding numbers in ``windings``, equally many of each.

    Tests (iii) ``windings=(3, -3)`` and (iv) ``windings=(4, -4)``; see
    :func:`topoml.hamiltonians.chiral1d.prescribed_winding`. Samples whose discrete winding differs from
    the prescribed one (aliased sampling) are redrawn.
    """
    n = _check_n(n)
    if not windings:
        raise InputError("windings must name at least one winding number")
    gen = as_generator(rng)
    per = _quotas(n, {i: 1.0 for i in range(len(windings))})
    parts = []
    for i, wv in enumerate(windings):
        parts.append(
            _fill(
                lambda g, m, wv=wv: chiral1d.prescribed_winding(wv, m, c, L, g),
                per[i], gen, lambda w, wv=wv: w == wv, max_step, name,
            )
        )
    x = np.concatenate([p.x for p in parts])
    w = np.concatenate([p.w for p in parts])
    perm = gen.permutation(n)
    frac = float(np.mean([p.trusted_fraction for p in parts]))
    return WindingSet(x=x[perm], w=w[perm], name=name, trusted_fraction=frac)


def ssh_set(
    n: int,
    *,
    L: int = 32,
    ratio_range: tuple[float, float] = (-10.0, 10.0),
    max_step: float = DEFAULT_MAX_STEP,
    rng: RngLike = None,
    name: str = "ssh",
) -> WindingSet:
    """SSH Hamiltonians (paper Eq. 4) with ``t = 1`` and ``(t − t')/t`` uniform in ``ratio_range``.

    Labels are exact: ``w = 1`` for ``|t'| > |t|`` (which includes ``t' < −1``), else 0, so the natural
    mix is 10 % ``w = 0`` (``(t − t')/t ∈ (0, 2)``) and 90 % ``w = 1``.
    """
    n = _check_n(n)
    lo, hi = ratio_range
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InputError(f"ratio_range must be a finite interval (lo < hi), got {ratio_range}")
    gen = as_generator(rng)
    return _fill(
        lambda g, m: chiral1d.ssh(1.0, 1.0 - g.uniform(lo, hi, size=m), L), n, gen, lambda w: np.ones(w.shape, bool),
        max_step, name,
    )


def add_label_noise(w: np.ndarray, fraction: float, rng: RngLike = None) -> np.ndarray:
    """Copy of labels with ``±1`` added to a random ``fraction`` of them (paper Fig. 4, dashed lines)."""
    if not (0.0 <= fraction <= 1.0):
        raise InputError(f"noise fraction must lie in [0, 1], got {fraction}")
    gen = as_generator(rng)
    w = np.array(w, dtype=np.int64, copy=True)
    idx = gen.choice(len(w), size=int(round(fraction * len(w))), replace=False)
    w[idx] += gen.choice(np.array([-1, 1]), size=len(idx))
    return w
