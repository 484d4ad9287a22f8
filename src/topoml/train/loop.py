"""A small, explicit training loop for regression networks (MSE on a real-valued output).

Used by the zhang2018 reproduction and by later experiments. Mini-batches are drawn by a seeded
permutation per epoch; the parameters are initialized by the network itself under
``torch.manual_seed(seed)``, so a (config, seed) pair determines the run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from topoml.errors import CheckpointError, ConfigError, InputError, ShapeError

__all__ = ["FitConfig", "History", "check_array", "fit", "predict", "l2_penalty", "run_net"]


@dataclass(frozen=True)
class FitConfig:
    """Hyper-parameters of :func:`fit`.

    Attributes
    ----------
    epochs : int
    batch_size : int, default 50 (Zhang et al. supplement)
    lr : float, default 1e-3 (Adam)
    l2 : float, default 0
        L2 regularization strength λ: the loss is ``MSE + λ Σ_W ||W||²`` over weight matrices
        (not biases), as in the paper's Fig. 4.
    schedule : "constant" or "cosine"
        Learning-rate schedule over the epochs (cosine decays to 0 at the end).
    """

    epochs: int
    batch_size: int = 50
    lr: float = 1e-3
    l2: float = 0.0
    schedule: str = "constant"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)) or self.l2 < 0:
            raise ConfigError(f"need lr > 0 and l2 >= 0, got lr={self.lr}, l2={self.l2}")
        if self.schedule not in ("constant", "cosine"):
            raise ConfigError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")


@dataclass
class History:
    """Per-epoch record of a training run."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    samples_per_second: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def l2_penalty(net: nn.Module) -> torch.Tensor:
    """``Σ ||W||²`` over the weight tensors (dim >= 2) of ``net``."""
    return sum((p.pow(2).sum() for p in net.parameters() if p.dim() >= 2), torch.zeros(()))


def check_array(a, name: str, *, allow_empty: bool = False) -> torch.Tensor:
    """``a`` (numpy array or tensor) as a float32 tensor, checked: real numeric, finite, of shape (n, ...).

    Raises
    ------
    InputError
        Not a real numeric array (complex, strings, objects), NaN/inf (also after the float32 cast).
    ShapeError
        A scalar, or an empty first axis (unless ``allow_empty``).
    """
    if isinstance(a, torch.Tensor):
        if a.is_complex() or a.dtype == torch.bool:
            raise InputError(f"{name} must be real numbers, got dtype {a.dtype}")
        t = a.detach().float()
    else:
        arr = np.asarray(a)
        if arr.dtype.kind not in "fiu":
            raise InputError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
        with np.errstate(over="ignore", invalid="ignore"):
            t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    if t.dim() == 0 or (len(t) == 0 and not allow_empty):
        raise ShapeError(f"{name} must have shape (n, ...) with n >= 1, got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise InputError(f"{name} contains NaN or inf (or values beyond float32 range)")
    return t


def run_net(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``net(x)``, with a :class:`~topoml.errors.ShapeError` (not a torch error) when ``x`` does not fit."""
    try:
        return net(x)
    except (RuntimeError, ValueError, IndexError) as e:
        if isinstance(e, ShapeError):
            raise
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ShapeError(f"inputs of shape {tuple(x.shape)} do not fit the network: {first}") from None


@torch.no_grad()
def predict(net: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = 8192) -> np.ndarray:
    """Raw network outputs for inputs ``x`` (batched, eval mode), float64 array of shape ``(n, ...)``.

    Raises
    ------
    InputError
        ``x`` not real, or NaN/inf.
    ShapeError
        ``x`` does not fit the network.
    """
    net.eval()
    xt = check_array(x, "x", allow_empty=True)
    out = [run_net(net, xt[i : i + batch_size]) for i in range(0, len(xt), batch_size)]
    return torch.cat(out).double().numpy() if out else np.zeros(0)


def fit(
    net: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    config: FitConfig,
    *,
    seed: int = 0,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    on_epoch: Callable[[int, History], None] | None = None,
) -> History:
    """Train ``net`` in place with Adam on the MSE between its output and ``y``.

    Parameters
    ----------
    net : nn.Module
        Maps a float32 batch of ``x`` to outputs of shape (batch,).
    x : ndarray of shape (n, ...)
        Inputs (converted to float32).
    y : ndarray of shape (n,)
        Real or integer targets (converted to float32).
    config : FitConfig
    seed : int
        Seeds the mini-batch order.
    validation : (x_val, y_val), optional
        Evaluated after every epoch: MSE and accuracy (nearest integer == label).
    on_epoch : callable(epoch, history), optional
        Called after every epoch (checkpoints, progress).

    Returns
    -------
    History

    Raises
    ------
    ShapeError
        ``x`` and ``y`` differ in length, are empty, ``y`` is not 1D, or ``x`` does not fit the network.
    InputError
        NaN/inf or non-real values in ``x`` or ``y`` (or in a validation set).
    CheckpointError
        The loss becomes NaN/inf (training diverged): lower the learning rate.
    """
    xt = check_array(x, "x")
    yt = check_array(y, "y")
    if validation is not None:
        check_array(validation[0], "validation x")
        check_array(validation[1], "validation y")
    if yt.dim() != 1 or len(xt) != len(yt):
        raise ShapeError(f"need x of shape (n, ...) and y of shape (n,), got {tuple(xt.shape)} and {tuple(yt.shape)}")
    n = len(yt)
    try:
        opt = torch.optim.Adam(net.parameters(), lr=config.lr, fused=True)
    except (RuntimeError, TypeError):  # pragma: no cover - fused Adam unavailable on this build
        opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    gen = torch.Generator().manual_seed(seed)
    hist = History()
    t0 = time.perf_counter()
    step = 0
    for epoch in range(config.epochs):
        net.train()
        perm = torch.randperm(n, generator=gen)
        running = 0.0
        for i in range(0, n, config.batch_size):
            if config.schedule == "cosine":
                for g in opt.param_groups:
                    g["lr"] = 0.5 * config.lr * (1 + math.cos(math.pi * step / total_steps))
            idx = perm[i : i + config.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = torch.mean((run_net(net, xt[idx]) - yt[idx]) ** 2)
            if not torch.isfinite(loss):
                raise CheckpointError(f"training diverged at epoch {epoch} (loss {loss.item()}); lower the learning rate")
            running += loss.item() * len(idx)
            if config.l2 > 0:
                loss = loss + config.l2 * l2_penalty(net)
            loss.backward()
            opt.step()
            step += 1
        hist.train_loss.append(running / n)
        if validation is not None:
            pv = predict(net, validation[0])
            yv = np.asarray(validation[1])
            hist.val_loss.append(float(np.mean((pv - yv) ** 2)))
            hist.val_accuracy.append(float(np.mean(np.rint(pv) == yv)))
        if on_epoch is not None:
            on_epoch(epoch, hist)
    hist.seconds = time.perf_counter() - t0
    hist.samples_per_second = n * config.epochs / hist.seconds if hist.seconds > 0 else float("nan")
    return hist
