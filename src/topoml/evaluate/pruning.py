"""SVD pruning of a network's first layer, and where along the chain the kept singular vectors live.

For a weight matrix ``M = U Σ Vᵀ`` (first layer: rows are hidden units, columns are inputs) the rank-``k``
truncation ``M_k = Σ_{s<k} σ_s u_s v_sᵀ`` keeps the ``k`` largest singular triplets (Eckart–Young: the
best rank-``k`` approximation in the Frobenius norm). Oriekhov et al. (arXiv:2509.26261) prune shallow
networks this way and find that a few components keep the accuracy; the right singular vectors
``v_s`` (input space) show which input features the network uses. Here they are mapped back onto the
cells of the chain (:func:`cell_profile`) to measure how much of their weight sits on the edge cells
(:func:`edge_weight`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from topoml.errors import InputError, ShapeError

__all__ = ["low_rank", "pruned", "pruning_curve", "cell_profile", "edge_weight", "singular_values"]


def _matrix(net: nn.Module, param: str) -> torch.Tensor:
    try:
        p = net.get_parameter(param)
    except AttributeError:
        raise InputError(f"network {type(net).__name__} has no parameter '{param}'") from None
    if p.dim() != 2:
        raise ShapeError(f"parameter '{param}' must be a matrix to be pruned, got shape {tuple(p.shape)}")
    return p.detach()


def singular_values(net: nn.Module, param: str) -> np.ndarray:
    """Singular values (descending, float64) of the matrix parameter ``param`` of ``net``."""
    return torch.linalg.svdvals(_matrix(net, param).double()).numpy()


def low_rank(M: torch.Tensor, k: int) -> torch.Tensor:
    """Rank-``k`` truncated SVD of the matrix ``M`` (same shape and dtype; ``k >= min(M.shape)`` returns ``M``).

    Raises
    ------
    InputError
        ``k < 0``.
    """
    if not isinstance(k, (int, np.integer)) or k < 0:
        raise InputError(f"rank k must be an integer >= 0, got {k!r}")
    if k >= min(M.shape):
        return M.clone()
    U, S, Vh = torch.linalg.svd(M.double(), full_matrices=False)
    return ((U[:, :k] * S[:k]) @ Vh[:k]).to(M.dtype)


def pruned(net: nn.Module, param: str, k: int) -> nn.Module:
    """A deep copy of ``net`` whose matrix parameter ``param`` is replaced by its rank-``k`` truncation."""
    M = _matrix(net, param)
    out = copy.deepcopy(net)
    with torch.no_grad():
        out.get_parameter(param).copy_(low_rank(M, k))
    return out


def pruning_curve(net: nn.Module, param: str, x: np.ndarray, y: np.ndarray, ks: Sequence[int]) -> list[float]:
    """Accuracy (nearest integer of the output == label) of ``net`` pruned to each rank in ``ks``.

    Parameters
    ----------
    net : nn.Module
    param : str
        Name of the matrix parameter (e.g. ``"first.weight"``).
    x : ndarray of shape (n, ...)
        Inputs.
    y : ndarray of int, shape (n,)
        Labels.
    ks : sequence of int

    Returns
    -------
    list of float
    """
    from topoml.evaluate.metrics import accuracy
    from topoml.train.trainer import predict

    return [accuracy(predict(pruned(net, param, int(k)), x), y) for k in ks]


def cell_profile(
    net: nn.Module, param: str, k: int, input_shape: tuple[int, ...], cell_axes: tuple[int, ...], side: str = "right"
) -> np.ndarray:
    """Weight per cell of the top-``k`` singular vectors of ``param``, weighted by ``σ²``, summing to 1.

    Each kept right singular vector (``side="right"``: a unit vector in input space, reshaped to
    ``input_shape``) contributes its squared components summed over all axes but one cell axis; the
    profiles of the axes in ``cell_axes`` are averaged (e.g. the A- and B-cell marginals of a vector over
    ``|G_ij|²``). ``side="both"`` (for a matrix whose rows and columns are cells, like ``T``) averages the
    profiles of the left and right singular vectors. Vectors are weighted by ``σ_s²``.

    Returns
    -------
    ndarray of float64, shape (L,)

    Raises
    ------
    ShapeError
        ``input_shape`` does not match the matrix.
    InputError
        ``k < 1`` or unknown ``side``.
    """
    if side not in ("right", "both"):
        raise InputError(f"side must be 'right' or 'both', got {side!r}")
    M = _matrix(net, param).double()
    if int(np.prod(input_shape)) != M.shape[1]:
        raise ShapeError(f"input shape {input_shape} does not match the {M.shape[1]} columns of '{param}'")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"rank k must be an integer >= 1, got {k!r}")
    U, S, Vh = torch.linalg.svd(M, full_matrices=False)
    k = min(int(k), len(S))
    wts = (S[:k] ** 2).numpy()
    vecs = [Vh[:k].numpy().reshape((k,) + tuple(input_shape))]
    if side == "both":
        vecs.append(U[:, :k].T.numpy().reshape((k,) + tuple(input_shape)))
    prof = 0.0
    for V in vecs:
        sq = V**2
        for ax in cell_axes:
            other = tuple(a + 1 for a in range(len(input_shape)) if a != ax)
            prof = prof + np.tensordot(wts, sq.sum(axis=other), axes=1)
    prof = np.asarray(prof, dtype=np.float64)
    return prof / prof.sum()


def edge_weight(profile: np.ndarray, cells: int) -> float:
    """Fraction of a cell profile on the first and last ``cells`` cells (uniform profile: ``2·cells/L``)."""
    p = np.asarray(profile, dtype=np.float64)
    if not isinstance(cells, (int, np.integer)) or cells < 1 or 2 * cells > len(p):
        raise InputError(f"edge cells must be an integer in [1, L/2], got {cells!r}")
    return float((p[:cells].sum() + p[len(p) - cells :].sum()) / p.sum())
