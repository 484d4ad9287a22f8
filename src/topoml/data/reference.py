"""Readers for reference data published by paper authors (numpy/scipy only).

margalit2022: ``data_{1,2,3}.mat`` (MATLAB v5), one 4×4 disorder pattern each and its Bott labels on a
400×400 grid of averages (``docs/conventions-margalit2022.md``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from topoml.errors import DatasetError

__all__ = ["Margalit2022Reference", "load_margalit2022_reference", "find_shared_data"]


class Margalit2022Reference(NamedTuple):
    """One reference phase diagram of margalit2022.

    Attributes
    ----------
    disorder : ndarray of float64, shape (4, 4, 3)
        The zero-mean disorder pattern ``(mu, t_minus, delta)`` per site, axis 0 = x.
    mu_bar : ndarray of float64, shape (400,)
        Average chemical potentials ``2·xvec``.
    t_minus_bar : ndarray of float64, shape (400,)
        Average anisotropies ``yvec``.
    raw : ndarray of float64, shape (400, 400)
        The authors' raw Bott values, ``[a, b]`` at ``(mu_bar[a], t_minus_bar[b])``, ``Δ̄ = 0.15``.
    label : ndarray of int64, shape (400, 400)
        ``round(raw)``.
    """

    disorder: np.ndarray
    mu_bar: np.ndarray
    t_minus_bar: np.ndarray
    raw: np.ndarray
    label: np.ndarray


def find_shared_data(*parts: str) -> Path | None:
    """The folder ``shared/data/<parts>`` beside the working directory or the repository, or None.

    Looks at ``$TOPOML_SHARED_DATA``, then ``../shared/data`` from the working directory and from the
    repository root of this package.
    """
    candidates = []
    if os.environ.get("TOPOML_SHARED_DATA"):
        candidates.append(Path(os.environ["TOPOML_SHARED_DATA"]))
    candidates.append(Path.cwd().parent / "shared" / "data")
    candidates.append(Path(__file__).resolve().parents[3].parent / "shared" / "data")
    for c in candidates:
        p = c.joinpath(*parts)
        if p.exists():
            return p
    return None


def load_margalit2022_reference(path: str | os.PathLike) -> Margalit2022Reference:
    """Read one ``data_k.mat`` of margalit2022.

    Parameters
    ----------
    path : path-like
        The ``.mat`` file.

    Returns
    -------
    Margalit2022Reference

    Raises
    ------
    DatasetError
        Missing, unreadable or malformed file.
    """
    from scipy.io import loadmat

    p = Path(path)
    try:
        d = loadmat(p)
    except FileNotFoundError:
        raise DatasetError(f"reference file {p} not found") from None
    except Exception as e:  # scipy raises several types for corrupt files
        raise DatasetError(f"cannot read reference file {p}: {e}") from None
    try:
        x = np.asarray(d["xvec"], dtype=np.float64).ravel()
        y = np.asarray(d["yvec"], dtype=np.float64).ravel()
        dis = np.stack([np.asarray(d[k], dtype=np.float64).reshape(4, 4)
                        for k in ("mu_dis", "t_minus_dis", "Delta_dis")], axis=-1)
        raw = np.asarray(d["Bott_vec"], dtype=np.float64).reshape(len(x), len(y))
    except (KeyError, ValueError) as e:
        raise DatasetError(f"{p} is not a margalit2022 reference file: {e}") from None
    return Margalit2022Reference(dis, 2 * x, y, raw, np.rint(raw).astype(np.int64))
