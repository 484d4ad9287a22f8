"""Metrics for networks whose real output is rounded to an integer invariant."""

from __future__ import annotations

import numpy as np

from topoml.errors import ShapeError

__all__ = ["accuracy", "mean_spread", "per_label_accuracy"]


def accuracy(prediction: np.ndarray, label: np.ndarray) -> float:
    """Fraction of samples with ``rint(prediction) == label`` (shapes (n,), n >= 1)."""
    p = np.asarray(prediction, dtype=np.float64)
    y = np.asarray(label)
    if p.shape != y.shape or p.ndim != 1 or len(p) == 0:
        raise ShapeError(f"prediction and label must be 1D of equal non-zero length, got {p.shape} and {y.shape}")
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
