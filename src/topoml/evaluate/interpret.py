"""Opening the black box of networks that learned an invariant.

* :func:`local_winding_map` — the CNN's local feature ``D(n=1)`` on the probe input of Zhang et al.
  Eq. 14, as a function of ``φ`` and ``Δφ`` (their Fig. 3), and how well it is described by the local
  phase step ``Δθ = wrap(Δφ)`` alone (Eq. 15: independent of ``φ``, linear in ``Δθ``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from topoml.hamiltonians.chiral1d import phase_input
from topoml.invariants.winding import DEFAULT_MAX_STEP

__all__ = ["LocalWindingMap", "local_winding_map"]


@dataclass
class LocalWindingMap:
    """``D[i, j] = D(n=1)`` at ``phi[i]``, ``dphi[j]``, with the fit ``D ≈ slope · wrap(Δφ) + offset``.

    The fit and both scores use only ``|wrap(Δφ)| <= fit_range`` (the phase steps present in the
    training data). ``r2`` is the fraction of the variance of D explained by the fit; ``phi_dependence``
    the RMS variation of D along φ at fixed Δφ divided by the standard deviation of D (0 = independent
    of φ).
    """

    phi: np.ndarray
    dphi: np.ndarray
    D: np.ndarray
    slope: float
    offset: float
    r2: float
    phi_dependence: float
    fit_range: float


@torch.no_grad()
def local_winding_map(
    net: torch.nn.Module, n_phi: int = 96, n_dphi: int = 96, L: int = 32, fit_range: float = DEFAULT_MAX_STEP
) -> LocalWindingMap:
    """Evaluate ``net.local_features`` at ``n = 1`` on the probe of Eq. 14 over a (φ, Δφ) grid.

    ``φ ∈ [0, 2π)``, ``Δφ ∈ [−π, π)``. ``net`` must provide ``local_features(x) -> (B, L)``
    (e.g. :class:`topoml.nets.winding.WindingCNN`). ``fit_range`` (radians) limits the linear fit to
    the phase steps the training data contain (by default the trust threshold of the labels).
    """
    phi = np.linspace(0, 2 * np.pi, n_phi, endpoint=False)
    dphi = np.linspace(-np.pi, np.pi, n_dphi, endpoint=False)
    P, DP = np.meshgrid(phi, dphi, indexing="ij")
    x = torch.from_numpy(phase_input(P.ravel(), DP.ravel(), L).astype(np.float32))
    net.eval()
    D = net.local_features(x)[:, 0].double().numpy().reshape(n_phi, n_dphi)
    step = (DP + np.pi) % (2 * np.pi) - np.pi
    inside = np.abs(step) <= fit_range
    A = np.stack([step[inside], np.ones(inside.sum())], axis=1)
    coef, *_ = np.linalg.lstsq(A, D[inside], rcond=None)
    resid = D[inside] - A @ coef
    var = D[inside].var()
    r2 = float(1 - resid.var() / var) if var > 0 else 0.0
    cols = np.abs(step[0]) <= fit_range
    phi_dep = float(np.sqrt(D[:, cols].var(axis=0).mean()) / np.sqrt(var)) if var > 0 else 0.0
    return LocalWindingMap(phi, dphi, D, float(coef[0]), float(coef[1]), r2, phi_dep, float(fit_range))
