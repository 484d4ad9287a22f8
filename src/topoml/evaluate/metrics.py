"""Metrics for networks whose real output is rounded to an integer invariant."""

from __future__ import annotations

import numpy as np

from topoml.errors import ShapeError

__all__ = ["accuracy", "mean_spread", "per_label_accuracy", "chern_baselines", "accuracy_breakdown",
           "parity_breakdown", "label_agreement", "confidence_table", "DISTANCE_BINS", "DELTA_BINS", "MARGIN_BINS",
           "CONFIDENCE_BINS"]

#: Bins of the distance of (μ̄/2, t̄₋) to the nearest clean phase line (margalit2022 Eq. A1 units).
DISTANCE_BINS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, np.inf)
#: Bins of a network's confidence (:func:`topoml.nets.rg.chern_prediction`; 1 = sure).
CONFIDENCE_BINS = (0.0, 0.5, 0.7, 0.9, 0.99, 1.0)
#: Bins of the average pairing Δ̄ (the averages' range is [0.1, 0.2]).
DELTA_BINS = (0.1, 0.13, 0.167, 0.2)
#: Bins of the branch-cut margin of the Bott eigenphases (:attr:`topoml.invariants.bott.BottSpectrum.margin`, radians).
MARGIN_BINS = (0.0, 0.03, 0.1, 0.3, 1.0, np.pi)


def accuracy(prediction: np.ndarray, label: np.ndarray) -> float:
    """Fraction of samples whose predicted integer invariant equals the label: the accuracy of topoml.

    Parameters
    ----------
    prediction : ndarray of shape (n,) or (n, 5)
        Real network outputs (the prediction is the nearest integer, ``rint``, ties to even) or
        integer predictions; or class scores over :data:`topoml.nets.rg.CHERN_CLASSES` (logits or
        probabilities; the prediction is the best class).
    label : ndarray of int, shape (n,), n >= 1

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ShapeError
        Shapes other than the above, or an empty set.
    """
    p = np.asarray(prediction)
    y = np.asarray(label)
    if p.ndim == 2 and y.ndim == 1 and len(p) == len(y):
        from topoml.nets.rg import CHERN_CLASSES

        if p.shape[1] != len(CHERN_CLASSES):
            raise ShapeError(f"class scores must have shape (n, {len(CHERN_CLASSES)}), got {p.shape}")
        p = np.argmax(p, axis=1) + CHERN_CLASSES[0]
    p = p.astype(np.float64)
    if p.shape != y.shape or p.ndim != 1 or len(p) == 0:
        raise ShapeError(f"prediction and label must be 1D of equal non-zero length (or class scores (n, 5)), "
                         f"got {np.shape(prediction)} and {y.shape}")
    return float(np.mean(np.rint(p) == y))


def per_label_accuracy(prediction: np.ndarray, label: np.ndarray) -> dict[int, float]:
    """Accuracy restricted to each label value."""
    p = np.rint(np.asarray(prediction, dtype=np.float64))
    y = np.asarray(label)
    return {int(v): float(np.mean(p[y == v] == v)) for v in np.unique(y)}


def mean_spread(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value) of ``values``."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def _lattice_averages(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[-1] != 3 or x.shape[1] != x.shape[2] or len(x) == 0:
        raise ShapeError(f"need a non-empty batch of lattices (n, N, N, 3), got {x.shape}")
    if not np.isfinite(x).all():
        from topoml.errors import InputError

        raise InputError("lattices contain NaN or inf")
    return x.astype(np.float64).mean(axis=(1, 2))


def _clean_phase(avg: np.ndarray) -> np.ndarray:
    """Clean Chern number at the averages; 99 (never a label) exactly on a clean phase line."""
    from topoml.invariants.chern import clean_chern_number

    mu, tm = avg[:, 0], avg[:, 1]
    on_line = (np.abs(mu) == 2) | (np.abs(mu) == 2 * np.abs(tm))
    return np.where(on_line, 99, clean_chern_number(np.where(on_line, 3.0, mu), tm))


def chern_baselines(x: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracies of the two answers that ignore the disorder pattern, on lattices ``x`` with ``labels``.

    Parameters
    ----------
    x : ndarray of shape (n, N, N, 3)
        p+ip lattices (channels ``mu, t_minus, delta``).
    labels : ndarray of int, shape (n,)
        Their Chern numbers (Bott labels).

    Returns
    -------
    dict
        ``always_zero``: fraction of ``labels == 0``; ``clean_phase``: fraction equal to the clean
        closed formula (:func:`topoml.invariants.clean_chern_number`) at the lattice averages
        ``(μ̄, t̄₋)``, where it is defined (a lattice exactly on a clean phase line counts as wrong).
    """
    avg = _lattice_averages(x)
    y = np.asarray(labels)
    if y.shape != (len(avg),):
        raise ShapeError(f"labels must have shape ({len(avg)},), got {y.shape}")
    clean = _clean_phase(avg)
    return {"always_zero": float(np.mean(y == 0)), "clean_phase": float(np.mean(clean == y))}


def accuracy_breakdown(x: np.ndarray, labels: np.ndarray, prediction: np.ndarray,
                       margin: np.ndarray | None = None) -> dict[str, list[dict]]:
    """Accuracy by distance to the clean phase lines, by average pairing and (optionally) by the branch-cut margin of
    the Bott eigenphases, with the clean-phase baseline.

    Parameters
    ----------
    x : ndarray of shape (n, N, N, 3)
    labels : ndarray of int, shape (n,)
    prediction : ndarray of int, shape (n,)
        Predicted Chern numbers (already rounded / argmax).
    margin : ndarray of float, shape (n,), optional
        :attr:`topoml.invariants.bott.BottSpectrum.margin` of the lattices (radians, in ``[0, π]``).

    Returns
    -------
    dict
        ``"distance"``, ``"delta"`` (and ``"margin"`` when given): one row per bin of :data:`DISTANCE_BINS` /
        :data:`DELTA_BINS` / :data:`MARGIN_BINS` with
        ``lo``, ``hi``, ``n``, ``accuracy``, ``clean_phase`` (the baseline's accuracy in that bin),
        ``disorder_decided`` (fraction of labels that differ from the clean phase of the averages) and
        ``accuracy_decided`` (the accuracy on those labels alone: what was learned from the disorder pattern,
        where the clean phase scores 0; ``nan`` when the bin has none).
    """
    avg = _lattice_averages(x)
    y, p = np.asarray(labels), np.asarray(prediction)
    if y.shape != (len(avg),) or p.shape != y.shape:
        raise ShapeError(f"labels and prediction must have shape ({len(avg)},), got {y.shape}, {p.shape}")
    if margin is not None:
        margin = np.asarray(margin, dtype=np.float64)
        if margin.shape != y.shape:
            raise ShapeError(f"margin must have shape ({len(avg)},), got {margin.shape}")
        if not np.all((margin >= 0) & (margin <= np.pi)):
            from topoml.errors import InputError

            raise InputError("margin must lie in [0, pi] (BottSpectrum.margin)")
    clean = _clean_phase(avg)

    decided = clean != y

    def row(m):
        n, d = int(m.sum()), int((m & decided).sum())
        return {"n": n, "accuracy": float(np.mean(p[m] == y[m])) if n else float("nan"),
                "clean_phase": float(np.mean(clean[m] == y[m])) if n else float("nan"),
                "disorder_decided": d / n if n else float("nan"),
                "accuracy_decided": float(np.mean(p[m & decided] == y[m & decided])) if d else float("nan")}

    return {key: [{"lo": lo, "hi": hi, **row(m)} for lo, hi, m in masks]
            for key, masks in _bin_masks(avg, margin).items()}


def _bin_masks(avg: np.ndarray, margin: np.ndarray | None = None) -> dict[str, list[tuple[float, float, np.ndarray]]]:
    """``"distance"`` / ``"delta"`` (/ ``"margin"``): ``(lo, hi, mask)`` for each bin of :data:`DISTANCE_BINS` /
    :data:`DELTA_BINS` over lattice averages ``avg`` ``(n, 3)`` (/ :data:`MARGIN_BINS` over ``margin``; the last bin
    closed)."""
    from topoml.data.sampling import boundary_distance

    out = {}
    keys = [("distance", boundary_distance(avg[:, 0], avg[:, 1]), DISTANCE_BINS), ("delta", avg[:, 2], DELTA_BINS)]
    if margin is not None:
        keys.append(("margin", margin, MARGIN_BINS))
    for key, values, bins in keys:
        out[key] = [(float(lo), float(hi), (values >= lo) & ((values < hi) if hi != bins[-1] else (values <= hi)))
                    for lo, hi in zip(bins[:-1], bins[1:])]
    return out


def parity_breakdown(x: np.ndarray, labels: np.ndarray, parity: np.ndarray) -> dict:
    """Where the Bott label and the ground-state fermion parity disagree: overall, by distance to the clean phase
    lines and by average pairing.

    On a clean lattice the parity is ``(−1)^C`` (:func:`topoml.invariants.fermion_parity`). A disorder pattern
    that moves the label away from the clean phase of the averages by an odd amount either closes the
    many-body gap on the way (the parity follows the new label) or not (the parity stays with the clean phase:
    the label moved through the geometry of the occupied states; issue 10, margalit2022 at 4×4).

    Parameters
    ----------
    x : ndarray of shape (n, N, N, 3)
        p+ip lattices (channels ``mu, t_minus, delta``).
    labels : ndarray of int, shape (n,)
        Their Bott labels.
    parity : ndarray of int, shape (n,)
        Their fermion parities, ``+1`` / ``−1``, or ``0`` where the gap closed (``on_gapless="flag"``).

    Returns
    -------
    dict
        ``"all"``: one row; ``"distance"`` and ``"delta"``: one row per bin of :data:`DISTANCE_BINS` /
        :data:`DELTA_BINS` (with ``lo``, ``hi``). Each row: ``n`` lattices, ``gapless`` (count of parity 0),
        ``disorder_decided`` (fraction of labels ≠ the clean phase of the averages), ``mismatch`` (fraction of
        the gapped lattices with parity ≠ ``(−1)^C``), ``odd_changes`` (count of gapped lattices whose label
        differs from the clean phase by an odd amount: the ones the parity can tell apart) and
        ``follows_clean`` (the fraction of those whose parity is the clean phase's, ``nan`` when none).
        Lattices exactly on a clean phase line have no clean phase and count in neither of the last two.

    Raises
    ------
    ShapeError
        Shapes other than the above.
    InputError
        A parity other than −1, 0, +1; lattices with NaN or inf.
    """
    from topoml.errors import InputError

    avg = _lattice_averages(x)
    y, par = np.asarray(labels), np.asarray(parity)
    if y.shape != (len(avg),) or par.shape != y.shape:
        raise ShapeError(f"labels and parity must have shape ({len(avg)},), got {y.shape}, {par.shape}")
    if not np.isin(par, (-1, 0, 1)).all():
        raise InputError("parity must be -1, 0 or +1 (0: gapless)")
    clean = _clean_phase(avg)
    gapped = par != 0
    odd = gapped & (clean != 99) & ((y - clean) % 2 == 1)
    sign_label = np.where(y % 2 == 0, 1, -1)
    sign_clean = np.where(clean % 2 == 0, 1, -1)

    def row(m):
        n, g, o = int(m.sum()), int((m & gapped).sum()), int((m & odd).sum())
        return {"n": n, "gapless": n - g,
                "disorder_decided": float(np.mean(clean[m] != y[m])) if n else float("nan"),
                "mismatch": float(np.mean(par[m & gapped] != sign_label[m & gapped])) if g else float("nan"),
                "odd_changes": o,
                "follows_clean": float(np.mean(par[m & odd] == sign_clean[m & odd])) if o else float("nan")}

    out: dict = {"all": row(np.ones(len(y), bool))}
    out.update({key: [{"lo": lo, "hi": hi, **row(m)} for lo, hi, m in masks] for key, masks in _bin_masks(avg).items()})
    return out


def label_agreement(x: np.ndarray, labels: np.ndarray, other: np.ndarray) -> dict:
    """How often a second exact label of the same lattices agrees with their Bott labels, overall and split by the
    clean phase of the averages.

    The second label is the Bott label of a related lattice: the same lattice with its disorder pattern moved a
    little (:func:`topoml.data.sampling.perturb_disorder`; how smooth the label is in the disorder), or its 2×2
    block average (:func:`topoml.hamiltonians.pip.block_average`; the premise of the RG network, that coarse
    graining keeps the Chern number). A predictor that answers alike for a lattice and its perturbation is right
    on at most one of the two where they disagree, so on such pairs it scores at most ``1 − (1 − agree)/2``; and
    "decimation, then an exact label" scores ``agree``.

    Parameters
    ----------
    x : ndarray of shape (n, N, N, 3)
        The lattices (channels ``mu, t_minus, delta``; their averages choose the split).
    labels : ndarray of int, shape (n,)
        Their Bott labels.
    other : ndarray of int, shape (n,)
        The second labels.

    Returns
    -------
    dict
        ``"all"``, ``"topological"`` (the clean phase of the averages is ``C ≠ 0``) and ``"trivial"`` (``C = 0``;
        lattices exactly on a phase line are in neither): each ``n``, ``agree`` (fraction ``other == labels``),
        ``nonzero`` (count of ``labels ≠ 0``), ``kept_nonzero`` (fraction of those with ``other == labels``,
        ``nan`` when none), ``other_nonzero`` (fraction ``other ≠ 0``) and ``always_zero`` (fraction ``labels == 0``).

    Raises
    ------
    ShapeError
        Shapes other than the above.
    InputError
        Lattices with NaN or inf; labels that are not integers.
    """
    from topoml.errors import InputError

    avg = _lattice_averages(x)
    y, o = np.asarray(labels), np.asarray(other)
    if y.shape != (len(avg),) or o.shape != y.shape:
        raise ShapeError(f"labels and other must have shape ({len(avg)},), got {y.shape}, {o.shape}")
    for name, v in (("labels", y), ("other", o)):
        if not (np.issubdtype(v.dtype, np.integer) or (np.issubdtype(v.dtype, np.floating) and np.all(v == np.rint(v)))):
            raise InputError(f"{name} must be integers (Chern numbers), got dtype {v.dtype}")
    clean = _clean_phase(avg)

    def row(m):
        n, nz = int(m.sum()), m & (y != 0)
        frac = (lambda a: float(np.mean(a)) if a.size else float("nan"))
        return {"n": n, "agree": frac(o[m] == y[m]), "nonzero": int(nz.sum()), "kept_nonzero": frac(o[nz] == y[nz]),
                "other_nonzero": frac(o[m] != 0), "always_zero": frac(y[m] == 0)}

    return {"all": row(np.ones(len(y), bool)), "topological": row((clean != 0) & (clean != 99)),
            "trivial": row(clean == 0)}


def confidence_table(prediction: np.ndarray, confidence: np.ndarray, labels: np.ndarray,
                     cuts: tuple[float, ...] = (0.7, 0.9)) -> dict[str, list[dict]]:
    """Accuracy as a function of a network's confidence, and what a confidence cut flags.

    Parameters
    ----------
    prediction, labels : ndarray of int, shape (n,)
    confidence : ndarray of float in [0, 1], shape (n,)
        1 = sure (:func:`topoml.nets.rg.chern_prediction`).
    cuts : tuple of float
        Confidence thresholds below which a lattice is flagged as uncertain.

    Returns
    -------
    dict
        ``"bins"``: per bin of :data:`CONFIDENCE_BINS`, ``lo``, ``hi``, ``fraction`` of the lattices and
        their ``accuracy``; ``"cuts"``: per cut, the ``kept`` fraction, the accuracy of the kept and of the
        flagged lattices.
    """
    p, q, y = np.asarray(prediction), np.asarray(confidence, dtype=np.float64), np.asarray(labels)
    if not (p.shape == q.shape == y.shape and p.ndim == 1 and len(p)):
        raise ShapeError(f"need three equal non-empty 1D arrays, got {p.shape}, {q.shape}, {y.shape}")
    ok = p == y

    def acc(m):
        return float(ok[m].mean()) if m.any() else float("nan")

    bins = []
    for lo, hi in zip(CONFIDENCE_BINS[:-1], CONFIDENCE_BINS[1:]):
        m = (q >= lo) & ((q < hi) if hi < CONFIDENCE_BINS[-1] else (q <= hi))
        bins.append({"lo": lo, "hi": hi, "fraction": float(m.mean()), "accuracy": acc(m)})
    return {"bins": bins, "cuts": [{"cut": c, "kept": float((q >= c).mean()), "accuracy_kept": acc(q >= c),
                                    "accuracy_flagged": acc(q < c)} for c in cuts]}
