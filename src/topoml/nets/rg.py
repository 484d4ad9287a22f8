"""Networks of margalit2022 (PRB 105, 205139): the base ResNet, the RG network, and their compound.

All networks take lattices in the project's layout: float32 tensors of shape ``(batch, N, N, 3)``
with channels ``(mu, t_minus, delta)`` (units of ``t₊ = 1``; axis 1 is x, axis 2 is y, see
``docs/conventions-margalit2022.md``). A single lattice of shape ``(N, N, 3)`` is accepted too.

* :class:`BaseNet` — 4×4 lattice → Chern number (a real number; the label is its nearest integer).
  The authors' network (App. A): 9 convolutions of 3×3 kernels with ReLU, residual connections around
  the pairs (2, 3), (4, 5), (6, 7), (8, 9), zero ("same") padding, global max pool over the lattice,
  one linear output. ``width=256`` gives the paper's 4.7 M parameters. Being convolutional with a
  global pool it accepts any ``N``, but it was trained (and is meaningful) at ``N = 4``.
* :class:`RGNet` — ``2N × 2N × 3 → N × N × 3`` (App. B): periodic padding before every 3×3
  convolution; the first convolution has stride 2; residual pairs; a final 1×1 convolution to 3
  linear channels. Convolutional, so the same weights map 32→16→8→4. With ``skip="averages"`` (not in
  the paper) each step is the 2×2 block average plus a correction of zero lattice mean, so the lattice
  averages pass through every step exactly.
* :func:`decimation` — 2×2 average pooling, the baseline RG map and the RG network's initialization
  target.
* :class:`CompoundNet` — ``base ∘ RG^k``: ``k = log2(N/4)`` applications of one RG network, then the
  base network. Accepts every ``N = 4·2^k``.
* :class:`InvariantBaseNet` — a base network with the label's exact symmetries built in (not in the
  paper): circular padding and global pooling make it exactly invariant under the 16 cyclic
  translations; ``symmetrize=True`` averages its prediction over transposition (with
  ``t₋ → −t₋``) and ``μ → −μ`` (which negates the Chern number), the rest of the 64-element group of
  :func:`topoml.hamiltonians.pip.symmetry_group`. It classifies (logits over C = −2…2) or regresses.
* :class:`AveragesNet` — a baseline (not in the paper): a multilayer perceptron on the three lattice
  averages only, blind to the disorder pattern. Its accuracy is how far the averages alone go; a network
  that sees the lattice has to beat it to have learned anything from the disorder.

Only ``torch.nn`` modules live here: no I/O and no training (see ``topoml.train`` and
``topoml.experiments.margalit2022``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from topoml.errors import ConfigError, ShapeError
from topoml.hamiltonians.pip import check_lattice_shape

__all__ = [
    "set_conv_impl",
    "BaseNet",
    "RGNet",
    "CompoundNet",
    "Decimation",
    "decimation",
    "rg_steps",
    "check_lattice_batch",
    "chern_net",
    "AveragesNet",
    "InvariantBaseNet",
    "AuxiliaryHead",
    "CHERN_CLASSES",
    "chern_prediction",
    "transpose_lattice",
    "negate_mu",
    "point_group_average",
]

#: Chern numbers the classification heads distinguish (4×4 Bott labels are in −2…2).
CHERN_CLASSES = (-2, -1, 0, 1, 2)

Padding = Literal["zero", "periodic"]


def rg_steps(n: int, base_size: int = 4) -> int:
    """Number ``k`` of RG steps that reduce an ``n × n`` lattice to ``base_size`` (``n = base_size·2^k``).

    Raises
    ------
    ShapeError
        ``n`` is not ``base_size`` times a power of two.
    """
    if n < base_size or n % base_size or (n // base_size) & (n // base_size - 1):
        raise ShapeError(f"lattice size {n} is not {base_size}·2^k (4, 8, 16, 32, ...)")
    return int(math.log2(n // base_size))


def check_lattice_batch(x: torch.Tensor) -> torch.Tensor:
    """Validate and return a batch of shape ``(batch, N, N, 3)`` (a single ``(N, N, 3)`` gets a batch axis).

    The shape rule is the physics layer's (:func:`topoml.hamiltonians.pip.check_lattice_shape`); values
    are not scanned here (every forward pass calls this): :func:`topoml.evaluate.predict.check_lattices`
    and :func:`topoml.train.trainer.check_array` check them once per input.

    Raises
    ------
    ShapeError
        Not 3 or 4 dimensional, not square, not 3 channels, or ``N < 2``.
    """
    check_lattice_shape(tuple(x.shape), name="lattices")
    return x.unsqueeze(0) if x.dim() == 3 else x


def _halve_check(size: int, what: str) -> None:
    if size % 2:
        raise ShapeError(f"{what} halves the lattice: size must be even, got {size}")


#: Largest lattice (sites ``n·m``) padded by a matrix product in :class:`_Conv`; larger ones by index.
_PAD_MATMUL_MAX_SITES = 256


@functools.lru_cache(maxsize=32)
def _wrap_matrix(n: int, m: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The 0/1 matrix ``(n·m, (n+2)·(m+2))`` that maps a flattened ``n × m`` lattice to its periodic padding
    by one site (column ``k`` holds a single 1 at the wrapped source site of padded site ``k``)."""
    i = torch.arange(-1, n + 1) % n
    j = torch.arange(-1, m + 1) % m
    src = (i[:, None] * m + j[None, :]).reshape(-1)
    w = torch.zeros(n * m, (n + 2) * (m + 2), dtype=dtype)
    w[src, torch.arange(len(src))] = 1
    return w.to(device)


@functools.lru_cache(maxsize=32)
def _neighbour_index(n: int, m: int, device: torch.device) -> torch.Tensor:
    """``(n·m·9,)``: for output site ``p = i·m + j`` and kernel offset ``k = 3·ki + kj`` the flat index of the site
    ``((i + ki − 1) mod n, (j + kj − 1) mod m)`` that a 3×3 convolution reads on the periodically padded lattice."""
    i, j = torch.meshgrid(torch.arange(n), torch.arange(m), indexing="ij")
    ki, kj = torch.meshgrid(torch.arange(3), torch.arange(3), indexing="ij")
    src = ((i.reshape(-1, 1) + ki.reshape(1, -1) - 1) % n) * m + (j.reshape(-1, 1) + kj.reshape(1, -1) - 1) % m
    return src.reshape(-1).to(device)


class _Conv(nn.Module):
    """A 3×3 convolution with zero or periodic (circular) padding of one site.

    Periodic padding wraps the rows and columns and then convolves without padding: the same numbers as
    ``padding_mode="circular"`` (which pads and convolves the same way). Lattices of up to
    ``_PAD_MATMUL_MAX_SITES`` sites are padded by a product with a 0/1 matrix (exact: one nonzero term per
    output; its backward is a product too), larger ones by an index gather. On 4×4 lattices, training
    (forward + backward) runs 1.7× faster than with the gather (whose backward is a slow scatter-add) and
    2.7× faster than ``padding_mode="circular"`` (``benchmarks/bench_base_train.py``).

    ``impl = "gemm"`` (:func:`set_conv_impl`; periodic, stride 1) computes the same convolution as one matrix
    product instead: the 9 neighbours of every site gathered into a ``(batch·sites, 9·c_in)`` matrix times the
    kernel as ``(9·c_in, c_out)``; the same parameters and the same numbers up to rounding. A candidate for
    accelerators (``benchmarks/bench_gpu_base.py`` measures it); on this project's CPUs it is no faster.
    """

    def __init__(self, c_in: int, c_out: int, padding: Padding, stride: int = 1):
        super().__init__()
        if padding not in ("zero", "periodic"):
            raise ConfigError(f"padding must be 'zero' or 'periodic', got {padding!r}")
        self.periodic = padding == "periodic"
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=0 if self.periodic else 1)
        self.impl = "conv"

    def _gemm(self, x: torch.Tensor) -> torch.Tensor:
        b, c, n, m = x.shape
        g = x.flatten(2).transpose(1, 2)[:, _neighbour_index(n, m, x.device)].reshape(b * n * m, 9 * c)
        w = self.conv.weight.permute(0, 2, 3, 1).reshape(self.conv.out_channels, 9 * c)
        return F.linear(g, w, self.conv.bias).reshape(b, n * m, -1).transpose(1, 2).reshape(b, -1, n, m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.impl == "gemm" and self.periodic and self.conv.stride == (1, 1):
            return self._gemm(x)
        if self.periodic:
            b, c, n, m = x.shape
            if n * m <= _PAD_MATMUL_MAX_SITES:
                w = _wrap_matrix(n, m, x.dtype, x.device)
                x = (x.reshape(b * c, n * m) @ w).reshape(b, c, n + 2, m + 2)
            else:
                i = torch.arange(-1, n + 1, device=x.device) % n
                j = torch.arange(-1, m + 1, device=x.device) % m
                x = x[:, :, i][:, :, :, j]
        return self.conv(x)


class _ResidualPair(nn.Module):
    """``relu(x + conv_b(relu(conv_a(x))))``: the skip connection around a pair of layers."""

    def __init__(self, c_in: int, c_out: int, padding: Padding):
        super().__init__()
        self.a = _Conv(c_in, c_out, padding)
        self.b = _Conv(c_out, c_out, padding)
        self.project = nn.Conv2d(c_in, c_out, 1, bias=False) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.project is None else self.project(x)
        return F.relu(skip + self.b(F.relu(self.a(x))))


def set_conv_impl(module: nn.Module, impl: Literal["conv", "gemm"]) -> nn.Module:
    """Choose how every 3×3 convolution of ``module`` (any network of this module) computes: ``"conv"`` (padding,
    then ``nn.Conv2d``; the default) or ``"gemm"`` (periodic stride-1 convolutions as one gathered matrix product,
    see :class:`_Conv`). Parameters, ``state_dict`` and outputs (to rounding) are unchanged. Returns ``module``.

    Raises
    ------
    ConfigError
        ``impl`` is not ``"conv"`` or ``"gemm"``.
    """
    if impl not in ("conv", "gemm"):
        raise ConfigError(f"impl must be 'conv' or 'gemm', got {impl!r}")
    for sub in module.modules():
        if isinstance(sub, _Conv):
            sub.impl = impl
    return module


def _check_depth(depth: int) -> int:
    if depth < 1 or depth % 2 == 0:
        raise ConfigError(f"depth must be odd and >= 1 (a first layer plus residual pairs), got {depth}")
    return depth


def _check_width(width: int, name: str = "width") -> int:
    if width < 1:
        raise ConfigError(f"{name} must be >= 1, got {width}")
    return width


class BaseNet(nn.Module):
    """The base network: Chern number of a (4×4) lattice, margalit2022 App. A.

    Parameters
    ----------
    width : int, default 256
        Kernels per convolution (the paper: 256, 4.7 M parameters).
    depth : int, default 9
        Number of 3×3 convolutions: one first layer plus ``(depth − 1)/2`` residual pairs (odd).
    padding : {"zero", "periodic"}, default "zero"
        The paper's base network uses zero padding.

    Input ``(batch, N, N, 3)`` float32 → output ``(batch,)`` float32 (the Chern number as a real
    number; the label is the nearest integer).
    """

    def __init__(self, width: int = 256, depth: int = 9, padding: Padding = "zero"):
        super().__init__()
        _check_width(width)
        _check_depth(depth)
        self.config = {"width": width, "depth": depth, "padding": padding}
        self.first = _Conv(3, width, padding)
        self.pairs = nn.Sequential(*[_ResidualPair(width, width, padding) for _ in range((depth - 1) // 2)])
        self.out = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = check_lattice_batch(x).permute(0, 3, 1, 2)
        h = self.pairs(F.relu(self.first(h)))
        return self.out(torch.amax(h, dim=(2, 3))).squeeze(-1)


class RGNet(nn.Module):
    """The RG network: ``(batch, 2N, 2N, 3) → (batch, N, N, 3)``, margalit2022 App. B.

    Parameters
    ----------
    width : int, default 256
        Kernels of the first (stride-2) convolution.
    inner_width : int, optional
        Kernels of the later convolutions (the paper: 512, about 18 M parameters); default ``width``.
    depth : int, default 9
        3×3 convolutions: the stride-2 layer plus ``(depth − 1)/2`` residual pairs (odd). A 1×1
        projection carries the skip of the first pair when ``inner_width != width``.
    padding : {"periodic", "zero"}, default "periodic"
        Padding of every 3×3 convolution (the paper: periodic, the lattice's boundary condition).
    skip : {"none", "decimation", "averages"}, default "none"
        ``"none"``: the paper's map, the convolutions' output. ``"decimation"`` (not in the paper): the
        output is the 2×2 block average of the input (:func:`decimation`) plus the convolutions'
        correction, whose final layer starts at zero, so an untrained network is decimation.
        ``"averages"``: the same with the correction's lattice mean removed per channel, so every step
        keeps the lattice averages ``(μ̄, t̄₋, Δ̄)`` exactly and the network only reshapes the disorder.

    The output is linear (a final 1×1 convolution to the three channels ``mu, t_minus, delta``).
    Raises :class:`~topoml.errors.ShapeError` for odd lattice sizes. :meth:`step` is the same map in
    the channels-first layout ``(batch, 3, 2N, 2N) → (batch, 3, N, N)`` (what :class:`CompoundNet`
    iterates, converting the layout once).
    """

    def __init__(self, width: int = 256, inner_width: int | None = None, depth: int = 9,
                 padding: Padding = "periodic", skip: Literal["none", "decimation", "averages"] = "none"):
        super().__init__()
        inner = width if inner_width is None else inner_width
        _check_width(width)
        _check_width(inner, "inner_width")
        _check_depth(depth)
        if skip not in ("none", "decimation", "averages"):
            raise ConfigError(f"skip must be 'none', 'decimation' or 'averages', got {skip!r}")
        self.config = {"width": width, "inner_width": inner, "depth": depth, "padding": padding}
        if skip != "none":  # recorded only when used: weights saved before the option load unchanged
            self.config["skip"] = skip
        self.skip = skip
        self.first = _Conv(3, width, padding, stride=2)
        n_pairs = (depth - 1) // 2
        self.pairs = nn.Sequential(*[_ResidualPair(width if i == 0 else inner, inner, padding) for i in range(n_pairs)])
        self.out = nn.Conv2d(inner if n_pairs else width, 3, 1)
        if skip != "none":
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def step(self, h: torch.Tensor) -> torch.Tensor:
        """One RG step on channels-first lattices ``(batch, 3, 2N, 2N) → (batch, 3, N, N)``."""
        _halve_check(h.shape[-1], "the RG network")
        c = self.out(self.pairs(F.relu(self.first(h))))
        if self.skip == "none":
            return c
        if self.skip == "averages":
            c = c - c.mean(dim=(2, 3), keepdim=True)
        return Decimation.step(h) + c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.step(check_lattice_batch(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class AveragesNet(nn.Module):
    """Baseline: the Chern number from the lattice averages ``(μ̄, t̄₋, Δ̄)`` alone.

    Parameters
    ----------
    width : int, default 256
        Units of each hidden layer.
    depth : int, default 3
        Hidden layers (ReLU), ≥ 1.

    Input ``(batch, N, N, 3)`` float32, any ``N`` → output ``(batch,)`` float32. The network sees only
    the per-channel means over the lattice, so it cannot use the disorder pattern: its accuracy measures
    what the averages determine (with exact-zero-mean disorder, they are the clean lattice's parameters).
    """

    def __init__(self, width: int = 256, depth: int = 3):
        super().__init__()
        _check_width(width)
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise ConfigError(f"depth must be a positive integer, got {depth!r}")
        self.config = {"width": width, "depth": depth}
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(3 if i == 0 else width, width), nn.ReLU()]
        self.mlp = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(check_lattice_batch(x).mean(dim=(1, 2))).squeeze(-1)


def transpose_lattice(x: torch.Tensor) -> torch.Tensor:
    """Swap the x and y axes of lattices ``(batch, N, N, 3)`` and negate ``t_minus``: an exact symmetry of the
    Chern number (the torch form of :class:`topoml.hamiltonians.pip.LatticeSymmetry` with ``transpose``)."""
    return x.transpose(1, 2) * torch.tensor([1.0, -1.0, 1.0], dtype=x.dtype, device=x.device)


def negate_mu(x: torch.Tensor, sign: torch.Tensor | float = -1.0) -> torch.Tensor:
    """Multiply ``mu`` of lattices ``(batch, N, N, 3)`` by ``sign`` (a number, or one per lattice of shape
    ``(batch,)``); ``μ → −μ`` negates the Chern number."""
    s = torch.as_tensor(sign, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
    return torch.cat([x[..., :1] * s, x[..., 1:]], dim=-1)


#: Input normalization of :class:`InvariantBaseNet`: centre and half-range of the averages' box
#: (μ̄ ∈ [−4, 4], t̄₋ ∈ [−2, 2], Δ̄ ∈ [0.1, 0.2]) and the 4×4 disorder full widths (0.3, 0.2, 0.05).
_AVG_CENTRE = (0.0, 0.0, 0.15)
_AVG_HALF = (4.0, 2.0, 0.05)
_DISORDER_WIDTH = (0.3, 0.2, 0.05)


class InvariantBaseNet(nn.Module):
    """Base network with the Bott label's exact lattice symmetries built in (not in the paper).

    Parameters
    ----------
    width : int, default 64
        Channels of every 3×3 convolution.
    blocks : int, default 6
        Residual blocks (two circular 3×3 convolutions each) after the first convolution.
    hidden : int, default 128
        Units of the hidden layer of the head.
    head : {"classes", "regression"}, default "classes"
        Logits over :data:`CHERN_CLASSES` (train with cross-entropy) or one real output (the paper's
        ``|d| + d²`` regression).
    symmetrize : bool, default False
        Average the prediction over the point symmetries (identity, transposition with ``t₋ → −t₋``,
        ``μ → −μ`` with the output's Chern number negated, both): exact invariance under the whole
        64-element group at 4× the cost. Classes: the averaged quantity is the log-probability.

    Input ``(batch, N, N, 3)`` (or ``(N, N, 3)``) float32 → ``(batch, 5)`` logits or ``(batch,)``.
    Six input channels per site: the three raw channels centred and scaled by the averages' range, and
    the three deviations from the lattice mean scaled by the 4×4 disorder widths. Circular padding
    everywhere and a global mean + max pool make the output exactly invariant under cyclic translations
    (to float rounding) for every ``N``; it is trained at ``N = 4``.
    """

    def __init__(self, width: int = 64, blocks: int = 6, hidden: int = 128,
                 head: Literal["classes", "regression"] = "classes", symmetrize: bool = False):
        super().__init__()
        _check_width(width)
        _check_width(hidden, "hidden")
        if not isinstance(blocks, int) or isinstance(blocks, bool) or blocks < 0:
            raise ConfigError(f"blocks must be an integer >= 0, got {blocks!r}")
        if head not in ("classes", "regression"):
            raise ConfigError(f"head must be 'classes' or 'regression', got {head!r}")
        self.config = {"width": width, "blocks": blocks, "hidden": hidden, "head": head,
                       "symmetrize": bool(symmetrize)}
        self.symmetrize = bool(symmetrize)
        self.register_buffer("centre", torch.tensor(_AVG_CENTRE), persistent=False)
        self.register_buffer("half_range", torch.tensor(_AVG_HALF), persistent=False)
        self.register_buffer("dwidth", torch.tensor(_DISORDER_WIDTH), persistent=False)
        self.first = _Conv(6, width, "periodic")
        self.pairs = nn.Sequential(*[_ResidualPair(width, width, "periodic") for _ in range(blocks)])
        n_out = len(CHERN_CLASSES) if head == "classes" else 1
        self.head = nn.Sequential(nn.Linear(2 * width, hidden), nn.ReLU(), nn.Linear(hidden, n_out))

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2), keepdim=True)
        h = torch.cat([(x - self.centre) / self.half_range, (x - mean) / self.dwidth], dim=-1)
        return h.permute(0, 3, 1, 2)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The translation-invariant features the head reads: ``(batch, N, N, 3) → (batch, 2·width)`` (the
        global mean and max of the last block's channels). ``x`` is not checked (see :meth:`forward`)."""
        h = self.pairs(F.relu(self.first(self._features(x))))
        return torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)

    def read_out(self, pooled: torch.Tensor) -> torch.Tensor:
        """The head on :meth:`pooled` features: ``(batch, 5)`` logits or ``(batch,)`` regression outputs."""
        out = self.head(pooled)
        return out.squeeze(-1) if self.config["head"] == "regression" else out

    def _raw(self, x: torch.Tensor) -> torch.Tensor:
        return self.read_out(self.pooled(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_lattice_batch(x)
        return point_group_average(self._raw, x) if self.symmetrize else self._raw(x)


class AuxiliaryHead(nn.Module):
    """An :class:`InvariantBaseNet` with a second head that regresses dense auxiliary targets (a training view;
    not in the paper).

    The label of a 4×4 lattice is one integer; its BdG spectrum (:func:`topoml.hamiltonians.pip.bdg_energies`) is
    16 numbers that the same disorder pattern decides and that share the label's symmetries. Regressing them
    from the pooled features beside the class head is auxiliary-task learning (Caruana, Mach. Learn. 28, 41
    (1997)): measured for this network (README, margalit2022, session 13) it roughly halved the training
    samples needed for a given accuracy. The auxiliary head is used in training only: the wrapped ``net`` is
    the network that is evaluated, saved and shipped, unchanged.

    Parameters
    ----------
    net : InvariantBaseNet
        Trained through this view (its parameters are this module's ``net.*`` ones).
    outputs : int >= 1
        Number of auxiliary targets (16 for the BdG energies of a 4×4 lattice).
    hidden : int, default 128
        Hidden units of the auxiliary head (``Linear(2·width, hidden) → ReLU → Linear(hidden, outputs)``).

    ``forward``: lattices ``(batch, N, N, 3)`` → ``(batch, k + outputs)``, the ``k`` outputs of ``net`` (5 logits,
    or 1 regression value) followed by the auxiliary predictions, which :func:`topoml.train.auxiliary_loss`
    splits. With ``net.symmetrize`` the first part is ``net``'s group-averaged output and the trunk runs once
    more for the auxiliary part.

    Raises :class:`~topoml.errors.ConfigError` for a ``net`` that is not an :class:`InvariantBaseNet` or bad sizes.
    """

    def __init__(self, net: InvariantBaseNet, outputs: int, hidden: int = 128):
        super().__init__()
        if not isinstance(net, InvariantBaseNet):
            raise ConfigError(f"auxiliary targets need an InvariantBaseNet, got {type(net).__name__}")
        _check_width(outputs, "outputs")
        _check_width(hidden, "hidden")
        self.net = net
        self.config = {"outputs": outputs, "hidden": hidden}
        self.aux = nn.Sequential(nn.Linear(2 * net.config["width"], hidden), nn.ReLU(), nn.Linear(hidden, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_lattice_batch(x)
        if self.net.symmetrize:
            out, p = self.net(x), self.net.pooled(x)
        else:
            p = self.net.pooled(x)
            out = self.net.read_out(p)
        return torch.cat([out.reshape(len(x), -1), self.aux(p)], dim=1)


def point_group_average(net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """A Chern network's prediction averaged over the point symmetries of the label: identity,
    transposition with ``t₋ → −t₋`` (:func:`transpose_lattice`), ``μ → −μ`` (:func:`negate_mu`, the
    Chern number negated) and both. With the translations (exact for the invariant base network; by
    ``2^k`` sites behind ``k`` RG steps) this is the 64-element group of ``tests/hamiltonians/test_symmetry.py``.

    ``x`` of shape ``(batch, N, N, 3)``; ``net(x)`` a regression output ``(batch,)`` (the averaged value,
    sign-corrected) or class logits ``(batch, len(CHERN_CLASSES))`` (the averaged log-probabilities, classes
    of the ``μ``-flipped lattices mirrored). One call of ``net`` on the batch of 4·batch lattices.

    Raises :class:`~topoml.errors.ShapeError` for ``x`` that is not ``(batch, N, N, 3)`` or ``(N, N, 3)``
    (:func:`check_lattice_batch`).
    """
    x = check_lattice_batch(x)
    xt = transpose_lattice(x)
    b = len(x)
    out = net(torch.cat([x, xt, negate_mu(x), negate_mu(xt)]))
    if out.ndim == 1:
        return (out[:b] + out[b:2 * b] - out[2 * b:3 * b] - out[3 * b:]) / 4
    logp = torch.log_softmax(out, dim=1)
    # mu -> -mu negates C: class k of the flipped lattice is class -k of the original
    return (logp[:b] + logp[b:2 * b] + logp[2 * b:3 * b].flip(1) + logp[3 * b:].flip(1)) / 4


def decimation(x: torch.Tensor) -> torch.Tensor:
    """2×2 average pooling of lattices: ``(batch, 2N, 2N, 3) → (batch, N, N, 3)`` (the block average).

    Site ``(i, j)`` of the output averages sites ``(2i..2i+1, 2j..2j+1)`` of the input, per channel.
    """
    return Decimation.step(check_lattice_batch(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class Decimation(nn.Module):
    """:func:`decimation` as a parameter-free module (the baseline RG map); :meth:`step` in the
    channels-first layout, as :meth:`RGNet.step`."""

    @staticmethod
    def step(h: torch.Tensor) -> torch.Tensor:
        """2×2 average pooling of channels-first lattices ``(batch, 3, 2N, 2N) → (batch, 3, N, N)``."""
        _halve_check(h.shape[-1], "decimation")
        return F.avg_pool2d(h, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return decimation(x)


class CompoundNet(nn.Module):
    """``base ∘ RG^k``: the Chern number of an ``N × N`` lattice, ``N = base_size·2^k``.

    Parameters
    ----------
    base : nn.Module
        Maps ``(batch, base_size, base_size, 3)`` to ``(batch,)``.
    rg : nn.Module
        Maps ``(batch, 2M, 2M, 3)`` to ``(batch, M, M, 3)`` (an :class:`RGNet` or :class:`Decimation`);
        the same module is applied ``k`` times, through its channels-first ``step`` when it has one (the
        layout is converted once, not at every step).
    base_size : int, default 4
    freeze_base : bool, default True
        Parameters of ``base`` get ``requires_grad=False`` (the paper trains the RG network only) and
        ``base`` stays in eval mode when the compound is put in train mode.
    coarse_base : nn.Module, optional
        A second base network (same input and output) for the lattices larger than ``base_size``;
        ``base`` still answers ``base_size`` lattices. It is never frozen: it exists to be fine-tuned
        together with the RG network (the ``joint`` stages of margalit2022, issue 10), so that the 4×4
        network keeps its own accuracy. Default: ``base`` at every size (the paper).
    coarse_size : int, optional
        The lattice size ``coarse_base`` reads (default ``base_size``): a lattice of size
        ``N >= coarse_size`` (and ``N > base_size``) is coarse-grained to ``coarse_size`` and answered by
        ``coarse_base`` (a fully convolutional base reads any size); a smaller one goes through ``base``.
        ``coarse_size = 2·base_size`` answers 8×8 lattices with no RG step. Needs ``coarse_base``.
    symmetrize : bool, default False
        Average the prediction over the point symmetries of the input lattice
        (:func:`point_group_average`, applied before the RG map): 4× the inference cost. An attribute,
        so a trained compound can be switched either way.
    size_nets : mapping of int to nn.Module, optional
        Networks that answer the lattices of exactly one size ``N > base_size`` (``N = base_size·2^k``) on
        their own, reading them directly, ahead of every other route; larger and smaller lattices are
        unaffected. Never frozen. margalit2022 (issue 10): an 8×8 copy of ``coarse_base`` trained on 8×8
        lattices alone, because the shared copy that also reads the coarse-grained 16×16 lattices is pulled
        between the two sizes. Held in the ``ModuleDict`` ``size_nets`` under ``str(N)``.

    Raises :class:`~topoml.errors.ShapeError` for sizes that are not ``base_size·2^k``, and
    :class:`~topoml.errors.ConfigError` for a ``coarse_size`` that is not ``base_size·2^k`` or without
    ``coarse_base``, and for a ``size_nets`` size that is not ``base_size·2^k`` with ``k >= 1``.
    """

    def __init__(self, base: nn.Module, rg: nn.Module, base_size: int = 4, freeze_base: bool = True,
                 coarse_base: nn.Module | None = None, symmetrize: bool = False, coarse_size: int | None = None,
                 size_nets: Mapping[int, nn.Module] | None = None):
        super().__init__()
        self.base, self.rg, self.base_size = base, rg, base_size
        self.coarse_base = coarse_base
        self.size_nets = nn.ModuleDict()
        for n, net in (size_nets or {}).items():
            try:
                bad = isinstance(n, bool) or rg_steps(int(n), base_size) < 1 or int(n) != n
            except (ShapeError, TypeError, ValueError):
                bad = True
            if bad:
                raise ConfigError(f"size_nets: sizes must be base_size·2^k > {base_size}, got {n!r}")
            for p in net.parameters():
                p.requires_grad_(True)  # a copy of a frozen base starts frozen
            self.size_nets[str(int(n))] = net
        coarse_size = base_size if coarse_size is None else coarse_size
        try:
            rg_steps(coarse_size, base_size)
        except (ShapeError, TypeError):
            raise ConfigError(f"coarse_size must be base_size·2^k = {base_size}·2^k, got {coarse_size!r}") from None
        if coarse_size != base_size and coarse_base is None:
            raise ConfigError("coarse_size needs a coarse_base")
        self.coarse_size = coarse_size
        self.symmetrize = bool(symmetrize)
        if coarse_base is not None:
            for p in coarse_base.parameters():
                p.requires_grad_(True)  # a copy of a frozen base starts frozen
        self.freeze_base = freeze_base
        if freeze_base:
            for p in self.base.parameters():
                p.requires_grad_(False)
            self.base.eval()

    def train(self, mode: bool = True) -> CompoundNet:
        super().train(mode)
        if self.freeze_base:
            self.base.eval()
        return self

    def coarse_grain(self, x: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Apply the RG map ``steps`` times (default: down to ``base_size``); returns the coarse lattices."""
        x = check_lattice_batch(x)
        k = rg_steps(x.shape[1], self.base_size) if steps is None else steps
        step = getattr(self.rg, "step", None)
        if step is None:  # a module without a channels-first step
            for _ in range(k):
                x = self.rg(x)
            return x
        h = x.permute(0, 3, 1, 2)
        for _ in range(k):
            h = step(h)
        return h.permute(0, 2, 3, 1)

    def _plain(self, x: torch.Tensor) -> torch.Tensor:
        k = rg_steps(x.shape[1], self.base_size)
        if str(x.shape[1]) in self.size_nets:
            return self.size_nets[str(x.shape[1])](x)
        if k == 0 or self.coarse_base is None or x.shape[1] < self.coarse_size:
            return self.base(self.coarse_grain(x, k))
        return self.coarse_base(self.coarse_grain(x, rg_steps(x.shape[1], self.coarse_size)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_lattice_batch(x)
        return point_group_average(self._plain, x) if self.symmetrize else self._plain(x)


def chern_net(base: dict | None = None, rg: dict | None = None, base_size: int = 4,
              base_kind: Literal["paper", "invariant"] = "paper", coarse_base: bool = False,
              symmetrize: bool = False, coarse_size: int | None = None,
              size_nets: Sequence[int] = (), coarse: dict | None = None) -> CompoundNet:
    """Build ``base ∘ RG^k`` from keyword dicts (the form stored with saved weights).

    Parameters
    ----------
    base : dict, optional
        Keyword arguments of the base network (default: the paper's).
    rg : dict, optional
        Keyword arguments of :class:`RGNet`; ``None`` uses :class:`Decimation` (the baseline).
    base_size : int, default 4
    base_kind : {"paper", "invariant"}, default "paper"
        :class:`BaseNet` or :class:`InvariantBaseNet`.
    coarse_base : bool, default False
        A second base network of the same kind and arguments behind the RG network
        (:class:`CompoundNet`'s ``coarse_base``).
    symmetrize : bool, default False
        :class:`CompoundNet`'s ``symmetrize`` (predictions averaged over the point symmetries).
    coarse_size : int, optional
        :class:`CompoundNet`'s ``coarse_size`` (the lattice size the coarse base reads; default ``base_size``).
    size_nets : sequence of int, default ()
        Sizes that get a base network of their own (same kind and arguments; :class:`CompoundNet`'s
        ``size_nets``).
    coarse : dict, optional
        Keyword arguments of the coarse base and of the ``size_nets`` networks when they differ from ``base``'s
        (default: ``base``'s). With a coarse base, the base network answers only the ``base_size`` lattices, so
        it can be another architecture (of the same ``base_kind``): the shipped weights (session 15) pair a
        width-192 4×4 base trained on a GPU with width-96 networks behind the RG network. Needs ``coarse_base``
        or ``size_nets``.
    """
    kinds = {"paper": BaseNet, "invariant": InvariantBaseNet}
    if base_kind not in kinds:
        raise ConfigError(f"base_kind must be 'paper' or 'invariant', got {base_kind!r}")
    if coarse is not None and not isinstance(coarse, dict):
        raise ConfigError(f"coarse must be a dict of network arguments, got {coarse!r}")
    if coarse is not None and not (coarse_base or size_nets):
        raise ConfigError("coarse needs a coarse_base or size_nets")
    coarse_kw = base if coarse is None else coarse
    second = kinds[base_kind](**(coarse_kw or {})) if coarse_base else None
    if isinstance(size_nets, (str, bytes)) or not isinstance(size_nets, Sequence):
        raise ConfigError(f"size_nets must be a list of lattice sizes, got {size_nets!r}")
    own = {n: kinds[base_kind](**(coarse_kw or {})) for n in size_nets}
    return CompoundNet(kinds[base_kind](**(base or {})), Decimation() if rg is None else RGNet(**rg),
                       base_size=base_size, coarse_base=second, symmetrize=symmetrize, coarse_size=coarse_size,
                       size_nets=own)


def chern_prediction(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Chern numbers and a confidence from a Chern network's output.

    Parameters
    ----------
    out : tensor of shape (batch,) or (batch, len(CHERN_CLASSES))
        A regression output (real Chern number) or class logits over :data:`CHERN_CLASSES`.

    Returns
    -------
    (chern, confidence) : int64 tensor (batch,), float tensor (batch,)
        Regression: ``round(out)`` and ``1 − 2·|out − round(out)|`` (1 = on an integer, 0 = half-way).
        Classes: the most probable class and its softmax probability.
    """
    if out.dim() == 1:
        c = torch.round(out)
        return c.long(), 1 - 2 * (out - c).abs()
    if out.dim() != 2 or out.shape[1] != len(CHERN_CLASSES):
        raise ShapeError(f"need outputs of shape (batch,) or (batch, {len(CHERN_CLASSES)}), got {tuple(out.shape)}")
    p = torch.softmax(out, dim=1)
    conf, k = p.max(dim=1)
    return k + CHERN_CLASSES[0], conf
