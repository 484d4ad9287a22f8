"""Networks that learn the winding number of 1D chiral Hamiltonians (Zhang, Shen, Zhai, PRL 120, 066401).

Input: ``h̃`` of shape ``(batch, L+1, 2)`` (float32; ``(h̃_x, h̃_y)`` at ``k = 2πn/L``, ``n = 0..L``).
Output: a real number per sample, shape ``(batch,)``; the predicted winding number is its nearest
integer. Hidden layers use ReLU, the output is linear; weights are Xavier-normal, biases zero
(paper supplement). Inputs of another shape raise :class:`~topoml.errors.ShapeError` (the sum-readout
network accepts any number ``>= 2`` of k points).
"""

from __future__ import annotations

import torch
from torch import nn

from topoml.errors import ConfigError, ShapeError

__all__ = ["WindingMLP", "WindingCNN", "WindingSumCNN", "LinearWinding", "init_xavier_zero_bias"]


def _check_input(x: torch.Tensor, L: int | None) -> torch.Tensor:
    """``x`` of shape ``(batch, L+1, 2)`` (any number >= 2 of k points when ``L`` is None), else ShapeError."""
    if x.dim() != 3 or x.shape[-1] != 2 or x.shape[1] < 2 or (L is not None and x.shape[1] != L + 1):
        want = "(batch, n >= 2, 2)" if L is None else f"(batch, L+1 = {L + 1}, 2)"
        raise ShapeError(f"winding networks take h(k) of shape {want} (h_x, h_y at k = 2πn/L), got {tuple(x.shape)}")
    return x


def _init(module: nn.Module, init: str) -> None:
    """Apply the named initialization: ``"xavier"`` (paper) or ``"torch"`` (PyTorch's default, kept)."""
    if init == "xavier":
        init_xavier_zero_bias(module)
    elif init != "torch":
        raise ConfigError(f"init must be 'xavier' or 'torch', got {init!r}")


def init_xavier_zero_bias(module: nn.Module) -> None:
    """Xavier-normal weights and zero biases for every Linear/Conv layer of ``module`` (in place)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class WindingMLP(nn.Module):
    """The paper's fully connected network: hidden layers 40, 32, 2 and a linear output.

    With ``L = 32`` it has 66·40+40 + 40·32+32 + 32·2+2 + 2+1 = 4061 parameters.
    """

    def __init__(self, L: int = 32, hidden: tuple[int, ...] = (40, 32, 2)):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = 2 * (L + 1)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*layers)
        self.L = L
        init_xavier_zero_bias(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L+1, 2) -> (B,)
        return self.layers(_check_input(x, self.L)).squeeze(-1)


class WindingCNN(nn.Module):
    """The paper's convolutional network (Fig. 1, Eqs. 9-13).

    * 40 kernels of size 2×2 over neighbouring k points (Eq. 9) → ReLU → ``B_i(n)``, ``n = 1..L``;
    * one 1×1 kernel mixing the 40 channels (Eq. 10) → ReLU → ``D(n)``;
    * dense layer of 2 neurons over the L values ``D(n)`` (Eqs. 11-12) → ReLU;
    * linear output (Eq. 13).

    The 2×2 convolution over the (L+1)×2 input is applied as one ``Linear(4, 40)`` on the L sliding
    windows ``(h̃_x(n−1), h̃_y(n−1), h̃_x(n), h̃_y(n))`` (identical to ``Conv2d(1, 40, (2, 2))``, weight
    ``A^i`` of Eq. 9 flattened row-major, and 1.7× faster on CPU); the 1×1 convolution likewise is a
    ``Linear(40, 1)`` applied at every n. With ``L = 32``: 200 + 41 + 66 + 3 = 310 parameters.

    ``dense_activation=False`` drops the ReLU of the dense layer (an ablation, same parameter count,
    registered as ``zhang2018.cnn_linear``): the output is then linear in the ``D(n)``, so it cannot
    saturate outside the training range. With the ReLU, the paper's network extrapolates to unseen
    winding numbers only when no dense unit switches off inside the range of interest (see the
    zhang2018 report).

    ``init="torch"`` keeps PyTorch's default initialization (Kaiming-uniform weights, uniform non-zero
    biases) instead of the paper's Xavier-normal weights and zero biases (``zhang2018.cnn_torchinit``).
    """

    def __init__(self, L: int = 32, kernels: int = 40, dense: int = 2, dense_activation: bool = True,
                 init: str = "xavier"):
        super().__init__()
        self.dense_activation = dense_activation
        self.conv = nn.Linear(4, kernels)
        self.mix = nn.Linear(kernels, 1)
        self.dense = nn.Linear(L, dense)
        self.out = nn.Linear(dense, 1)
        self.L = L
        _init(self, init)

    def _mixed(self, x: torch.Tensor) -> torch.Tensor:
        """The 1×1 convolution of Eq. 10 before its ReLU, shape ``(B, L)``."""
        windows = torch.cat([x[:, :-1], x[:, 1:]], dim=-1)  # (B, L, 4)
        return self.mix(torch.relu(self.conv(windows))).squeeze(-1)

    def local_features(self, x: torch.Tensor) -> torch.Tensor:
        """``D(n)`` of Eq. 10 (after ReLU), shape ``(B, L)``: the network's local winding ``Δθ(n)``."""
        return torch.relu(self._mixed(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L+1, 2) -> (B,)
        f = self.dense(self.local_features(_check_input(x, self.L)))
        return self.out(torch.relu(f) if self.dense_activation else f).squeeze(-1)


class WindingSumCNN(WindingCNN):
    """The paper's two convolutions with a sum readout: ``w̃ = α Σ_n D(n) + β`` (``zhang2018.cnn_sum``).

    The dense layer of 2 ReLU neurons and the output neuron (66 + 3 parameters) are replaced by one
    scale ``α`` and one offset ``β``, so the output is additive over k, as the winding number
    ``w = Σ_n Δθ(n) / 2π`` is (paper Eq. 3): a network whose ``D(n)`` is linear in the local phase step
    (paper Eq. 15) then gives the winding number of any loop whose steps lie in the trained range,
    whatever ``|w|``. ``D(n)`` (the 1×1 convolution) has no ReLU here: a local winding must be able
    to be negative (with the ReLU, D ≥ 0 saturates for clockwise steps and the network cannot count
    w < −2). With ``L = 32``: 200 + 41 + 2 = 243 parameters. Input/output as :class:`WindingCNN`.
    """

    def __init__(self, L: int = 32, kernels: int = 40, init: str = "xavier"):
        nn.Module.__init__(self)
        self.conv = nn.Linear(4, kernels)
        self.mix = nn.Linear(kernels, 1)
        self.out = nn.Linear(1, 1)
        self.L = L
        _init(self, init)

    def local_features(self, x: torch.Tensor) -> torch.Tensor:
        """``D(n)`` (no ReLU), shape ``(B, L)``: the network's local winding."""
        return self._mixed(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, n, 2) -> (B,), any n >= 2
        return self.out(self.local_features(_check_input(x, None)).sum(-1, keepdim=True)).squeeze(-1)


class LinearWinding(nn.Module):
    """No hidden layer, no activation: linear regression on the (L+1)×2 input (the SSH shortcut)."""

    def __init__(self, L: int = 32):
        super().__init__()
        self.linear = nn.Linear(2 * (L + 1), 1)
        self.L = L
        init_xavier_zero_bias(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L+1, 2) -> (B,)
        return self.linear(_check_input(x, self.L).flatten(1)).squeeze(-1)
