"""Networks that classify the real-space winding number of SSH-family chains (Oriekhov et al.,
arXiv:2509.26261; ``docs/spec-oriekhov2025.md``).

Input (every network): ``x`` of shape ``(batch, 2, L, L)``, float32 (float64 works after ``.double()``)
with ``x[:, 0, i, m] = a_m(i)`` and ``x[:, 1, i, m] = b_m(i)``, the A and B amplitudes on cell ``i`` of
the ``m``-th positive-energy eigenstate (:mod:`topoml.data.chain_sets`). Output: one real number per
sample, shape ``(batch,)``; the predicted winding number is its nearest integer (trained with MSE by
:func:`topoml.train.trainer.fit_arrays`, like the zhang2018 networks, so that a winding number absent from
training can be predicted at all).

The topo networks
-----------------
``G = Σ_m a_m b_m† = a @ b†`` (computed inside the network, so invariant under the sign/phase of each
eigenvector and under rotations inside degenerate levels) and

    W = Σ_ij T_ij |G_ij|²,   T_ij = (4/L') (x_i − x_j) χ_window(j)

(:func:`topoml.invariants.real_space.winding_tensor`; our sign makes the SSH topological phase ``+1``).
``W`` is exactly the real-space winding number for the exact ``T``; a residual head
``y = W + g(W)`` (``g`` a one-hidden-layer tanh network whose output layer starts at zero) keeps the
exact network exact at initialization. Parametrizations of ``T``:

* :class:`TopoLinear`: ``T`` itself (``L²`` parameters), linear in its parameters;
* :class:`TopoFactorized`: ``T = P Qᵀ`` with ``P, Q`` of shape ``(L, r)`` — non-convex (bilinear); the
  exact ``T`` has rank 2 (``T = c x χᵀ − c 1 (xχ)ᵀ``), so ``r >= 2`` expresses it;
* :class:`TopoKernel`: ``T_ij = f(x_i − x_j) χ_window(j) / L'`` with a trainable displacement kernel
  ``f`` (``2L − 1`` parameters; exact ``f(d) = 4d``), linear and translation invariant; it applies to any
  chain length (displacements beyond the trained range contribute 0).

Initializations (``init``): ``"exact"``; ``"perturbed"``: exact plus Gaussian noise of standard
deviation ``perturbation`` times the RMS of the exact parameters; ``"random"``: Gaussian with that RMS.
Random numbers come from torch's global generator (seed it with ``torch.manual_seed``).

Comparison networks
-------------------
* :class:`ChainMLP`: fully connected on the raw (gauge-fixed) amplitudes (physics-agnostic);
* :class:`ChainShallow`: one hidden layer on the raw amplitudes;
* :class:`ChainCNN`: a 1D CNN over cells applied to every eigenstate (channels A, B), zero padding at
  the chain ends, mean over cells and max over states (any chain length);
* :class:`SublatticeNet`: symmetry-informed — sublattice-aware and gauge-invariant: an MLP on
  ``|2 G_ij|² = |Q_AB|²``.

Networks with a prunable first layer set ``prunable`` (parameter name), ``prune_input_shape`` (the shape
that a right singular vector of that matrix takes in input space), ``prune_cell_axes`` (its axes
that index cells) and ``prune_side`` (``"right"``: only the right singular vectors live in input space;
``"both"`` for ``T``, whose rows and columns are both cells); see :mod:`topoml.evaluate.pruning`.
Others set ``prunable = None``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from topoml.errors import InputError, ShapeError
from topoml.invariants.real_space import bulk_window, winding_tensor
from topoml.nets.winding import init_xavier_zero_bias

__all__ = [
    "INITS",
    "correlation_matrix",
    "ResidualHead",
    "TopoLinear",
    "TopoFactorized",
    "TopoKernel",
    "ChainMLP",
    "ChainShallow",
    "ChainCNN",
    "SublatticeNet",
]

INITS = ("exact", "perturbed", "random")


def _check_input(x: torch.Tensor, L: int | None = None) -> torch.Tensor:
    if x.dim() != 4 or x.shape[1] != 2 or x.shape[2] != x.shape[3]:
        raise ShapeError(f"chain networks take x of shape (batch, 2, L, L) (A and B amplitudes), got {tuple(x.shape)}")
    if L is not None and x.shape[-1] != L:
        raise ShapeError(f"this network was built for L = {L} cells, got input with L = {x.shape[-1]}")
    return x


def correlation_matrix(x: torch.Tensor) -> torch.Tensor:
    """``G = a @ bᵀ`` of shape ``(batch, L, L)`` from ``x`` of shape ``(batch, 2, L, L)`` (real amplitudes).

    ``G[i, j] = Σ_m a_m(i) b_m(j)``; unchanged when any eigenvector ``(a_m, b_m)`` changes sign.
    """
    x = _check_input(x)
    return x[:, 0] @ x[:, 1].transpose(-1, -2)


def _check_init(init: str, perturbation: float) -> None:
    if init not in INITS:
        raise InputError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    if not (isinstance(perturbation, (int, float)) and math.isfinite(perturbation) and perturbation >= 0):
        raise InputError(f"perturbation must be a finite number >= 0, got {perturbation!r}")


def _initial(exact: np.ndarray, init: str, perturbation: float, dtype=None) -> torch.Tensor:
    """Exact, perturbed or random initial value with the RMS of ``exact`` as scale (torch global RNG)."""
    e = torch.as_tensor(exact, dtype=dtype or torch.get_default_dtype())
    rms = float(torch.sqrt(torch.mean(e**2)))
    noise = torch.randn(e.shape, dtype=e.dtype) * rms
    if init == "exact":
        return e.clone()
    if init == "perturbed":
        return e + perturbation * noise
    return noise


class ResidualHead(nn.Module):
    """``y = s + Linear(h→1)(tanh(Linear(1→h)(s)))``; the output layer starts at zero (identity at init).

    ``hidden = 0`` is the identity (no parameters). Input and output of shape ``(batch,)``.
    """

    def __init__(self, hidden: int = 8):
        super().__init__()
        if not isinstance(hidden, int) or hidden < 0:
            raise InputError(f"head hidden width must be an integer >= 0, got {hidden!r}")
        self.hidden = hidden
        if hidden:
            self.inp = nn.Linear(1, hidden)
            self.out = nn.Linear(hidden, 1)
            nn.init.xavier_normal_(self.inp.weight)
            nn.init.zeros_(self.inp.bias)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        if not self.hidden:
            return s
        return s + self.out(torch.tanh(self.inp(s[:, None]))).squeeze(-1)


class _Topo(nn.Module):
    """Shared forward of the topo networks: ``head(Σ_ij T_ij |G_ij|²)``."""

    size_agnostic = False

    def tensor(self, L: int) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def invariant(self, x: torch.Tensor) -> torch.Tensor:
        """The contraction ``W = Σ_ij T_ij |G_ij|²`` before the head, shape ``(batch,)``."""
        G = correlation_matrix(_check_input(x, None if self.size_agnostic else self.L))
        T = self.tensor(G.shape[-1]).to(G.dtype)
        return torch.einsum("bij,ij->b", G * G, T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.invariant(x))


class TopoLinear(_Topo):
    """Topo network with a trainable ``L × L`` tensor ``T`` (linear in its parameters).

    Parameters
    ----------
    L : int
        Cells per chain (``L >= 4``).
    init : {"exact", "perturbed", "random"}
    perturbation : float
        Relative noise of ``"perturbed"`` (times the RMS of the exact ``T``).
    window : float or (int, int)
        Bulk window of the exact ``T`` (:func:`topoml.invariants.real_space.bulk_window`).
    head : int
        Hidden width of the :class:`ResidualHead` (0: none).
    dtype : torch.dtype, optional
        Of the tensor parameters (default: torch's default dtype). ``torch.float64`` keeps the exact
        ``T`` exact (``.double()`` after construction converts float32-rounded values).

    ``L² + 3·head + 1`` parameters (head > 0).
    """

    def __init__(self, L: int = 20, init: str = "random", perturbation: float = 0.5, window=0.5, head: int = 8,
                 dtype: torch.dtype | None = None):
        super().__init__()
        _check_init(init, perturbation)
        self.L = L
        self.exact_T = winding_tensor(L, window)
        self.T = nn.Parameter(_initial(self.exact_T, init, perturbation, dtype))
        self.head = ResidualHead(head)
        self.prunable = "T"  # rows: A cells i, columns: B cells j
        self.prune_input_shape = (L,)
        self.prune_cell_axes = (0,)
        self.prune_side = "both"

    def tensor(self, L: int) -> torch.Tensor:
        return self.T


class TopoFactorized(_Topo):
    """Topo network with ``T = P Qᵀ``, ``P, Q`` of shape ``(L, rank)`` (non-convex).

    Exact factors (rank 2; extra columns start at ``1e-3`` × Gaussian): with centred cell coordinates
    ``x̄`` and ``c = 4/L'``, ``P = [x̄, 1]``, ``Q = [c χ, −c x̄ χ]``, each column pair rescaled to equal
    norms. ``"random"`` draws ``P`` and ``Q`` so that ``P Qᵀ`` has the RMS of the exact ``T``.

    Parameters
    ----------
    L : int
    rank : int, default 2
        ``>= 2`` for ``init="exact"`` / ``"perturbed"``.
    init, perturbation, window, head, dtype
        As :class:`TopoLinear`.

    Raises
    ------
    InputError
        ``rank < 1``, or ``rank < 2`` with an exact/perturbed initialization.
    """

    def __init__(self, L: int = 20, rank: int = 2, init: str = "random", perturbation: float = 0.5, window=0.5,
                 head: int = 8, dtype: torch.dtype | None = None):
        super().__init__()
        _check_init(init, perturbation)
        if not isinstance(rank, int) or rank < 1:
            raise InputError(f"rank must be an integer >= 1, got {rank!r}")
        if init != "random" and rank < 2:
            raise InputError("the exact T has rank 2: exact or perturbed initialization needs rank >= 2")
        self.L = L
        self.rank = rank
        self.exact_T = winding_tensor(L, window)
        start, stop = bulk_window(L, window)
        c = 4.0 / (stop - start)
        xbar = np.arange(L) - (L - 1) / 2
        chi = np.zeros(L)
        chi[start:stop] = 1.0
        P = np.zeros((L, rank))
        Q = np.zeros((L, rank))
        for k, (p, q) in enumerate(((xbar, c * chi), (np.ones(L), -c * xbar * chi))):
            s = math.sqrt(np.linalg.norm(q) / np.linalg.norm(p))
            P[:, k], Q[:, k] = p * s, q / s
        rms_T = float(np.sqrt(np.mean(self.exact_T**2)))
        dt = dtype or torch.get_default_dtype()
        if init == "random":
            s = math.sqrt(rms_T / math.sqrt(rank))
            P0, Q0 = torch.randn(L, rank, dtype=dt) * s, torch.randn(L, rank, dtype=dt) * s
        else:
            rms = float(np.sqrt(np.mean(np.concatenate([P[:, :2], Q[:, :2]]) ** 2)))
            P0 = torch.as_tensor(P, dtype=dt)
            Q0 = torch.as_tensor(Q, dtype=dt)
            extra = torch.zeros(L, rank, dtype=dt)
            extra[:, 2:] = 1e-3 * rms
            scale = extra if init == "exact" else perturbation * rms + extra
            P0 = P0 + torch.randn(L, rank, dtype=dt) * scale
            Q0 = Q0 + torch.randn(L, rank, dtype=dt) * scale
        self.P = nn.Parameter(P0)
        self.Q = nn.Parameter(Q0)
        self.head = ResidualHead(head)
        self.prunable = None

    def tensor(self, L: int) -> torch.Tensor:
        return self.P @ self.Q.T


class TopoKernel(_Topo):
    """Topo network with ``T_ij = f(x_i − x_j) χ_window(j) / L'``: a trainable displacement kernel.

    ``f`` has ``2L − 1`` entries (displacements ``−(L−1) .. L−1`` of the training length); the exact
    kernel is ``f(d) = 4d``. Applies to any input length ``L_in >= 4``: the window is recomputed for
    ``L_in`` and displacements beyond ``±(L−1)`` contribute 0 (a choice; the exact ``T`` of a longer
    chain would use them).

    Parameters
    ----------
    L : int
        Training length (sets the kernel's range).
    init, perturbation, window, head, dtype
        As :class:`TopoLinear`.
    """

    size_agnostic = True

    def __init__(self, L: int = 20, init: str = "random", perturbation: float = 0.5, window=0.5, head: int = 8,
                 dtype: torch.dtype | None = None):
        super().__init__()
        _check_init(init, perturbation)
        self.L = L
        self.window = window
        bulk_window(L, window)  # validates
        d = np.arange(-(L - 1), L, dtype=np.float64)
        self.f = nn.Parameter(_initial(4.0 * d, init, perturbation, dtype))
        self.head = ResidualHead(head)
        self.prunable = None

    def tensor(self, L: int) -> torch.Tensor:
        start, stop = bulk_window(L, self.window)
        D = self.L - 1
        i = torch.arange(L)[:, None]
        j = torch.arange(L)[None, :]
        d = i - j
        inside = (d.abs() <= D) & (j >= start) & (j < stop)
        T = self.f[(d.clamp(-D, D) + D)]
        return torch.where(inside, T, torch.zeros((), dtype=T.dtype)) / (stop - start)


class ChainMLP(nn.Module):
    """Fully connected network on the raw amplitudes: ``2L² → hidden… → 1``, ReLU, Xavier init.

    ``L = 20``, ``hidden = (64, 32)``: 800·64+64 + 64·32+32 + 32+1 = 53,377 parameters.
    """

    size_agnostic = False

    def __init__(self, L: int = 20, hidden: tuple[int, ...] = (64, 32)):
        super().__init__()
        if not hidden or any(h < 1 for h in hidden):
            raise InputError(f"hidden widths must be a non-empty list of integers >= 1, got {hidden!r}")
        self.L = L
        self.first = nn.Linear(2 * L * L, hidden[0])
        layers: list[nn.Module] = []
        width = hidden[0]
        for h in hidden[1:]:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.rest = nn.Sequential(*layers, nn.Linear(width, 1))
        init_xavier_zero_bias(self)
        self.prunable = "first.weight"
        self.prune_input_shape = (2, L, L)
        self.prune_cell_axes = (1,)
        self.prune_side = "right"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_input(x, self.L)
        return self.rest(torch.relu(self.first(x.flatten(1)))).squeeze(-1)


class ChainShallow(ChainMLP):
    """One hidden layer on the raw amplitudes: ``2L² → hidden → 1`` (``L = 20``, 16: 12,833 parameters)."""

    def __init__(self, L: int = 20, hidden: int = 16):
        super().__init__(L, (hidden,))


class ChainCNN(nn.Module):
    """1D CNN over cells, shared by all eigenstates; works for any chain length.

    Each eigenstate is a 2-channel signal (A, B amplitude) over the ``L`` cells: two ``Conv1d`` layers
    (kernel ``kernel``, zero padding: the chain ends are visible) with ReLU, the mean over cells, the
    maximum over states, then ``Linear(channels, dense)`` → ReLU → ``Linear(dense, 1)``.
    Defaults: 88 + 328 + 144 + 17 = 577 parameters.
    """

    size_agnostic = True

    def __init__(self, L: int | None = None, channels: int = 8, kernel: int = 5, dense: int = 16):
        super().__init__()
        if kernel < 1 or kernel % 2 == 0 or channels < 1 or dense < 1:
            raise InputError(f"need an odd kernel >= 1 and channels, dense >= 1, got {kernel}, {channels}, {dense}")
        self.L = L
        pad = kernel // 2
        self.conv = nn.Sequential(
            nn.Conv1d(2, channels, kernel, padding=pad), nn.ReLU(),
            nn.Conv1d(channels, channels, kernel, padding=pad), nn.ReLU(),
        )
        self.dense = nn.Sequential(nn.Linear(channels, dense), nn.ReLU(), nn.Linear(dense, 1))
        init_xavier_zero_bias(self)
        self.prunable = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_input(x)
        B, _, L, M = x.shape
        states = x.permute(0, 3, 1, 2).reshape(B * M, 2, L)  # one 2-channel signal per state
        f = self.conv(states).mean(-1).reshape(B, M, -1).amax(1)
        return self.dense(f).squeeze(-1)


class SublatticeNet(nn.Module):
    """Symmetry-informed network: an MLP on ``|Q_AB|² = 4|G|²`` (sublattice-resolved, gauge invariant).

    ``L² → hidden → 1`` with ReLU; ``L = 20``, ``hidden = 32``: 12,865 parameters.
    """

    size_agnostic = False

    def __init__(self, L: int = 20, hidden: int = 32):
        super().__init__()
        if hidden < 1:
            raise InputError(f"hidden width must be >= 1, got {hidden!r}")
        self.L = L
        self.first = nn.Linear(L * L, hidden)
        self.out = nn.Linear(hidden, 1)
        init_xavier_zero_bias(self)
        self.prunable = "first.weight"
        self.prune_input_shape = (L, L)
        self.prune_cell_axes = (0, 1)
        self.prune_side = "right"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        G = correlation_matrix(_check_input(x, self.L))
        return self.out(torch.relu(self.first((4 * G * G).flatten(1)))).squeeze(-1)
