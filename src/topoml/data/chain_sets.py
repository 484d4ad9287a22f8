"""Labelled data sets of SSH-family chains for the oriekhov2025 networks (numpy only, no torch).

Every set is a :class:`ChainSet`: the network input ``x`` of shape ``(n, 2, L, L)`` (float32) with
``x[:, 0, i, m] = a_m(i)`` and ``x[:, 1, i, m] = b_m(i)``, the A and B amplitudes on cell ``i`` of the
``m``-th positive-energy eigenstate (energies ascending, deterministic gauge of
:func:`topoml.data.chain_features.fix_gauge`), and the real-space winding number as label
(:func:`topoml.data.chain_features.chain_features`, same SVD). Only samples whose RSWN label is
**valid** (gapped, quantized, local; see :mod:`topoml.invariants.real_space`) are kept: near-critical
chains are excluded, not mislabelled.

Sampling (a choice of ours; the paper's ranges are unknown, ``docs/spec-oriekhov2025.md``): clean chains
of range ``R`` with ``v`` uniform in ``[−v_max, v_max]`` and ``w^{(r)}`` uniform in
``[−w_max[r−1], w_max[r−1]]``, the same on every cell; optional chiral-preserving hopping disorder
(:func:`topoml.hamiltonians.ssh.disordered_hoppings`, additive, every bond) and chiral-breaking on-site
disorder (:func:`topoml.hamiltonians.ssh.onsite_disorder`). With on-site terms the label is that of the
chiral part of the same chain (the invariant of ``H`` itself is no longer protected).
Classes are filled by rejection to exact quotas (balanced by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from topoml.errors import DatasetError, InputError
from topoml.hamiltonians import ssh
from topoml.data.chain_features import chain_features, scramble_gauge
from topoml.rng import RngLike, as_generator

__all__ = [
    "ChainSet",
    "clean_hoppings",
    "chain_set",
    "features",
    "relabel",
    "mask_edges",
    "scramble",
    "disorder_series",
]

_MAX_ROUNDS = 500


@dataclass(frozen=True)
class ChainSet:
    """A labelled set of chains.

    Attributes
    ----------
    x : ndarray of float32, shape (n, 2, L, L)
        Eigenvector amplitudes (``x[:, 0]``: A, ``x[:, 1]``: B; rows are cells, columns are states).
    label : ndarray of int64, shape (n,)
        Real-space winding number (valid labels only).
    value : ndarray of float64, shape (n,)
        The unrounded RSWN of the chiral part.
    v : ndarray of float64, shape (n, L)
    w : ndarray of float64, shape (n, R, L)
        Hopping parameters (after hopping disorder).
    name : str
    kept_fraction : float
        Fraction of drawn chains that were kept (valid label of a requested class).
    """

    x: np.ndarray
    label: np.ndarray
    value: np.ndarray
    v: np.ndarray
    w: np.ndarray
    name: str = ""
    kept_fraction: float = 1.0

    def __len__(self) -> int:
        return len(self.label)

    @property
    def L(self) -> int:
        return self.x.shape[-1]

    def counts(self) -> dict[int, int]:
        """Number of samples per label."""
        vals, cnt = np.unique(self.label, return_counts=True)
        return {int(a): int(b) for a, b in zip(vals, cnt)}


def _check_pos_int(name: str, value, minimum: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def clean_hoppings(n: int, L: int, *, R: int = 2, v_max: float = 1.0, w_max=(1.0, 1.0), rng: RngLike = None):
    """``n`` clean chains: ``v`` uniform in ``[−v_max, v_max]``, ``w^{(r)}`` uniform in ``[−w_max[r−1], w_max[r−1]]``.

    Returns
    -------
    v : ndarray of float64, shape (n, L)
    w : ndarray of float64, shape (n, R, L)

    Raises
    ------
    InputError
        ``R`` not matching ``len(w_max)``, negative ranges, bad ``n``/``L``.
    """
    n = _check_pos_int("n", n, 0)
    L = _check_pos_int("L", L, 1)
    R = _check_pos_int("R", R, 1)
    w_max = np.atleast_1d(np.asarray(w_max, dtype=np.float64))
    if w_max.shape != (R,) or np.any(w_max < 0) or not np.isfinite(v_max) or v_max < 0:
        raise InputError(f"need v_max >= 0 and w_max of length R = {R} with entries >= 0, got {v_max}, {w_max.tolist()}")
    gen = as_generator(rng)
    v0 = gen.uniform(-v_max, v_max, size=n)
    w0 = gen.uniform(-1.0, 1.0, size=(n, R)) * w_max
    return ssh.uniform_hoppings(L, v0, w0)


def features(v, w, *, periodic: bool = False, onsite=None):
    """Network input and RSWN of chains given by their hoppings.

    Parameters
    ----------
    v : array_like of shape (n, L)
    w : array_like of shape (n, R, L)
    periodic : bool
        Ring instead of an open chain (labels with the whole-ring window).
    onsite : array_like of shape (n, 2L), optional
        Chiral-breaking on-site energies: the amplitudes come from ``H`` with them, the label from the
        chiral part.

    Returns
    -------
    x : ndarray of float32, shape (n, 2, L, L)
    label : ndarray of int64, shape (n,)
    value : ndarray of float64, shape (n,)
    valid : ndarray of bool, shape (n,)
    """
    f = chain_features(v, w, periodic=periodic)
    wind = f.winding
    if onsite is not None:
        f = chain_features(v, w, periodic=periodic, onsite=onsite)
    x = np.stack([f.a, f.b], axis=1).astype(np.float32)
    return x, np.asarray(wind.label, dtype=np.int64), np.asarray(wind.value), np.asarray(wind.valid)


def chain_set(
    n: int,
    L: int,
    *,
    labels=(0, 1),
    R: int = 2,
    v_max: float = 1.0,
    w_max=(1.0, 1.0),
    disorder: float = 0.0,
    rng: RngLike = None,
    name: str = "",
) -> ChainSet:
    """A class-balanced set of ``n`` open chains whose valid RSWN labels lie in ``labels``.

    Parameters
    ----------
    n : int
        Number of samples (``n // len(labels)`` per class, the remainder to the first classes).
    L : int
        Cells per chain (``L >= 4``, for the central-half window).
    labels : sequence of int
        Requested winding numbers.
    R, v_max, w_max
        As :func:`clean_hoppings`.
    disorder : float, default 0
        Additive chiral-preserving hopping disorder strength (every bond).
    rng : int, Generator, SeedSequence or None
    name : str

    Returns
    -------
    ChainSet

    Raises
    ------
    InputError
        Bad arguments.
    DatasetError
        A class could not be filled (e.g. winding 2 with ``R = 1``).
    """
    n = _check_pos_int("n", n, 1)
    L = _check_pos_int("L", L, 4)
    labels = [int(k) for k in labels]
    if not labels or len(set(labels)) != len(labels):
        raise InputError(f"labels must be a non-empty list of distinct integers, got {labels}")
    if any(abs(k) > R for k in labels):
        raise InputError(f"winding numbers {labels} need hopping range R >= {max(abs(k) for k in labels)}, got R = {R}")
    gen = as_generator(rng)
    quota = {k: n // len(labels) + (1 if i < n % len(labels) else 0) for i, k in enumerate(labels)}
    parts: dict[int, list] = {k: [] for k in labels}
    have = dict.fromkeys(labels, 0)
    drawn = 0
    for _ in range(_MAX_ROUNDS):
        need = sum(quota[k] - have[k] for k in labels)
        if need == 0:
            break
        m = 2 * need + 64
        v, w = clean_hoppings(m, L, R=R, v_max=v_max, w_max=w_max, rng=gen)
        if disorder > 0:
            v, w = ssh.disordered_hoppings(v, w, intra_strength=disorder, inter_strength=disorder, rng=gen)
        x, lab, val, ok = features(v, w)
        drawn += m
        for k in labels:
            idx = np.flatnonzero(ok & (lab == k))[: quota[k] - have[k]]
            if len(idx):
                parts[k].append((x[idx], lab[idx], val[idx], v[idx], w[idx]))
                have[k] += len(idx)
    else:
        raise DatasetError(
            f"could not fill the classes {labels} of set '{name}' in {_MAX_ROUNDS} rounds "
            f"(have {have}); widen the hopping ranges"
        )
    cat = [np.concatenate([p[i] for k in labels for p in parts[k]]) for i in range(5)]
    order = gen.permutation(n)
    return ChainSet(*(c[order] for c in cat), name=name, kept_fraction=n / drawn)


def relabel(base: ChainSet, *, periodic: bool = False, onsite=None, v=None, w=None, name: str = "") -> ChainSet:
    """The chains of ``base`` (or hoppings ``v``, ``w``) with new boundary conditions / on-site terms.

    Samples whose new label is not valid are dropped (``kept_fraction`` says how many were kept).
    With ``onsite`` the label is that of the chiral part.
    """
    v = base.v if v is None else v
    w = base.w if w is None else w
    x, lab, val, ok = features(v, w, periodic=periodic, onsite=onsite)
    return ChainSet(x[ok], lab[ok], val[ok], np.asarray(v)[ok], np.asarray(w)[ok], name=name,
                    kept_fraction=float(np.mean(ok)))


def mask_edges(x: np.ndarray, cells: int) -> np.ndarray:
    """Copy of the input ``x`` (shape ``(n, 2, L, L)``) with the amplitudes on the first and last ``cells`` cells set to 0.

    Raises
    ------
    InputError
        ``cells < 0`` or ``2 * cells >= L``.
    """
    L = x.shape[-2]
    if not isinstance(cells, (int, np.integer)) or cells < 0 or 2 * cells >= L:
        raise InputError(f"edge cells must be an integer in [0, L/2) = [0, {L / 2:g}), got {cells!r}")
    out = np.array(x, copy=True)
    if cells:
        out[..., :cells, :] = 0
        out[..., L - cells :, :] = 0
    return out


def scramble(x: np.ndarray, *, rng: RngLike = None) -> np.ndarray:
    """Input ``x`` (shape ``(n, 2, L, L)``) with every eigenvector times a random sign (:func:`scramble_gauge`)."""
    a, b = scramble_gauge(x[:, 0], x[:, 1], rng=rng)
    return np.stack([a, b], axis=1).astype(x.dtype)


def disorder_series(base: ChainSet, strengths, kind: str, *, rng: RngLike = None) -> dict[float, ChainSet]:
    """The chains of ``base`` with disorder of each strength, common random numbers across strengths.

    Parameters
    ----------
    base : ChainSet
        Clean chains.
    strengths : sequence of float >= 0
    kind : {"hopping", "onsite"}
        ``"hopping"``: chiral-preserving additive disorder ``t → t + W ε`` on every bond, new RSWN labels
        (invalid ones dropped). ``"onsite"``: chiral-breaking ``V_s = W ε_s``; the label is that of the
        chiral part (the clean label).
    rng : int, Generator, SeedSequence or None
        ``ε`` is drawn once and scaled by each ``W``.

    Returns
    -------
    dict float -> ChainSet
    """
    if kind not in ("hopping", "onsite"):
        raise InputError(f"disorder kind must be 'hopping' or 'onsite', got {kind!r}")
    seed = int(as_generator(rng).integers(0, 2**63 - 1))
    out = {}
    L = base.L
    for s in strengths:
        s = float(s)
        if not np.isfinite(s) or s < 0:
            raise InputError(f"disorder strengths must be finite and >= 0, got {s}")
        if kind == "hopping":
            v, w = ssh.disordered_hoppings(base.v, base.w, intra_strength=s, inter_strength=s, rng=seed)
            out[s] = relabel(base, v=v, w=w, name=f"{base.name}-hopping-{s:g}")
        else:
            onsite = ssh.onsite_disorder(L, s, size=len(base), rng=seed)
            out[s] = relabel(base, onsite=onsite, name=f"{base.name}-onsite-{s:g}")
    return out
