"""The training loop of topoml: epochs of mini-batches, resumable checkpoints, model selection, prediction.

Every network of the project trains here: the zhang2018 and oriekhov2025 regressions (in memory,
:func:`fit_arrays`) and the margalit2022 stages and ``topoml train`` (per-epoch checkpoints). A
:class:`Trainer` trains one network on batches from a *batch source* (a function ``epoch -> iterable
of (x, y)``: in-memory tensors in seeded random order, :func:`tensor_batches`, or lattices drawn on the
fly, e.g. for the decimation pre-training), with one loss (:func:`mse_loss`, margalit2022's
:func:`chern_loss`, :func:`chern_class_loss`, or any callable), an optional L2 penalty, one optimizer
(SGD with Nesterov momentum as in margalit2022, Adam, AdamW) and an optional learning-rate schedule.
:func:`predict` is the one way to run a network on an array (batched, eval mode, checked input).

Checkpoints (when a ``folder`` is given): ``epoch-NNNN.safetensors`` holds the network weights *and*
the optimizer state (flattened tensors; the hyper-parameters as JSON metadata), written atomically;
then ``history.json`` (one record per finished epoch: losses, evaluation metrics, time) is replaced
atomically. After a kill, :meth:`Trainer.fit` reloads the last epoch recorded in ``history.json`` and
continues with the next one: the result is identical to an uninterrupted run, because every epoch's
batch order is a function of ``(seed, epoch)`` only. ``best.safetensors`` holds the weights of the
epoch with the best value of ``select`` (e.g. 16×16 accuracy, margalit2022's early stop on
generalization). Without a folder the same loop runs in memory (no files; the best weights are kept
in memory). No pickles are written or read.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from topoml.errors import CheckpointError, ConfigError, InputError, ShapeError
from topoml.rng import derive_seed
from topoml.runs.rundir import atomic_write_bytes, atomic_write_text

__all__ = [
    "TrainConfig",
    "Trainer",
    "BatchSource",
    "fit_arrays",
    "predict",
    "check_array",
    "run_net",
    "mse_loss",
    "chern_loss",
    "chern_class_loss",
    "chern_expected_loss",
    "l2_penalty",
    "regression_evaluator",
    "curves",
    "tensor_batches",
    "decimation_batches",
    "symmetry_augmented",
    "random_symmetries",
    "interleaved",
]


# -- inputs and outputs ----------------------------------------------------------------------------

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

    A caller that must reproduce an earlier run bit for bit keeps the ``batch_size`` that run used. Chern
    numbers of lattices: :func:`topoml.evaluate.predict.predict_chern`.

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


# -- losses ----------------------------------------------------------------------------------------

def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``mean((pred − target)²)`` (zhang2018, oriekhov2025); shapes must agree.

    Raises
    ------
    ShapeError
        ``pred`` and ``target`` differ in shape (e.g. targets of shape (n, 2) for a scalar output).
    """
    if pred.shape != target.shape:
        raise ShapeError(f"network outputs of shape {tuple(pred.shape)} do not match targets of shape "
                         f"{tuple(target.shape)} (need y of shape (n,) for a scalar output)")
    return torch.mean((pred - target) ** 2)


def chern_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """margalit2022 Eq. (A2): ``|d| + d²`` with ``d = pred − target``, summed over all but the batch axis,
    averaged over the batch (for scalar outputs: the plain mean)."""
    d = pred - target
    per = d.abs() + d * d
    return per.reshape(per.shape[0], -1).sum(dim=1).mean() if per.dim() > 1 else per.mean()


def chern_class_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of class logits over :data:`topoml.nets.rg.CHERN_CLASSES` against integer Chern labels.

    Parameters
    ----------
    logits : tensor of shape (batch, 5)
    target : tensor of shape (batch,), Chern numbers in −2…2 (float or int; rounded)
    """
    from topoml.nets.rg import CHERN_CLASSES

    k = torch.round(target).long() - CHERN_CLASSES[0]
    if logits.dim() != 2 or logits.shape[1] != len(CHERN_CLASSES) or k.min() < 0 or k.max() >= len(CHERN_CLASSES):
        raise ShapeError(f"need logits (batch, {len(CHERN_CLASSES)}) and labels in {CHERN_CLASSES}, "
                         f"got {tuple(logits.shape)} and labels {int(target.min())}…{int(target.max())}")
    return torch.nn.functional.cross_entropy(logits, k)


def chern_expected_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """margalit2022 Eq. (A2) on the expected Chern number of class logits: ``|d| + d²`` with
    ``d = Σ_c softmax(logits)_c · c − target`` (c over :data:`topoml.nets.rg.CHERN_CLASSES`), batch mean.

    Its gradient is bounded where cross-entropy's is not (a confident wrong class), which is what an RG
    network trained behind a frozen class-head base needs: measured on the margalit2022 default run, one
    epoch at SGD lr 5e-6 gives 95.42 / 92.6 % at 8×8 / 16×16 against 94.92 / 93.1 % with cross-entropy at
    its best lr (5e-7) and 92.5 / 81.2 % with this loss at lr 2e-5.

    Parameters
    ----------
    logits : tensor of shape (batch, 5)
    target : tensor of shape (batch,), Chern numbers (float)
    """
    from topoml.nets.rg import CHERN_CLASSES

    if logits.dim() != 2 or logits.shape[1] != len(CHERN_CLASSES) or target.shape != logits.shape[:1]:
        raise ShapeError(f"need logits (batch, {len(CHERN_CLASSES)}) and labels (batch,), "
                         f"got {tuple(logits.shape)} and {tuple(target.shape)}")
    values = torch.tensor(CHERN_CLASSES, dtype=logits.dtype, device=logits.device)
    d = torch.softmax(logits, dim=1) @ values - target.to(logits.dtype)
    return (d.abs() + d * d).mean()


def auxiliary_loss(loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], outputs: int, weight: float = 1.0
                   ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss of a network with an auxiliary head (:class:`topoml.nets.rg.AuxiliaryHead`): ``loss`` on the main
    outputs and labels plus ``weight`` · the mean squared error of the auxiliary outputs.

    The returned callable takes ``pred`` of shape ``(batch, k + outputs)`` (the main outputs, then the auxiliary
    ones; ``k = 1`` is passed on as ``(batch,)``) and ``target`` of shape ``(batch, 1 + outputs)`` (the label,
    then the auxiliary targets, as :func:`auxiliary_targets` yields them).

    Raises
    ------
    ConfigError
        ``outputs < 1`` or ``weight`` negative or not finite.
    ShapeError
        (from the callable) ``pred`` or ``target`` of other shapes.
    """
    if isinstance(outputs, bool) or not isinstance(outputs, int) or outputs < 1:
        raise ConfigError(f"outputs must be an integer >= 1, got {outputs!r}")
    if not (weight >= 0 and math.isfinite(weight)):
        raise ConfigError(f"weight must be >= 0, got {weight}")

    def total(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if (pred.dim() != 2 or target.dim() != 2 or pred.shape[1] <= outputs or target.shape[1] != 1 + outputs
                or len(pred) != len(target)):
            raise ShapeError(f"need outputs (batch, k + {outputs}) and targets (batch, {1 + outputs}), "
                             f"got {tuple(pred.shape)} and {tuple(target.shape)}")
        main = pred[:, :-outputs]
        main = main[:, 0] if main.shape[1] == 1 else main
        return loss(main, target[:, 0]) + weight * torch.mean((pred[:, -outputs:] - target[:, 1:]) ** 2)

    return total


def l2_penalty(net: nn.Module) -> torch.Tensor:
    """``Σ ||W||²`` over the weight tensors (dim >= 2) of ``net`` (zhang2018 Fig. 4's regularizer)."""
    return sum((p.pow(2).sum() for p in net.parameters() if p.dim() >= 2), torch.zeros(()))


# -- configuration ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a :class:`Trainer`.

    Attributes
    ----------
    epochs : int >= 1
    batch_size : int >= 1, default 640 (margalit2022)
    optimizer : {"sgd", "adam", "adamw"}, default "sgd"
        ``"sgd"``: SGD with Nesterov momentum ``momentum`` (the paper); ``"adam"``: Adam; ``"adamw"``: AdamW
        with decoupled ``weight_decay``.
    lr : float > 0, default 0.01 (the paper's base network; 5e-4 for the RG network)
    momentum : float in [0, 1), default 0.9 (``sgd`` only)
    schedule : {"constant", "cosine", "onecycle"}, default "constant"
        Cosine decays the learning rate per step to 0 at the end of ``epochs``; ``onecycle`` first rises
        linearly from ``lr/25`` to ``lr`` over the first 5 % of the steps, then decays like cosine.
    seed : int, default 0
        The batch order of epoch ``e`` is a function of ``(seed, e)``.
    weight_decay : float >= 0, default 0 (``adamw`` only)
    l2 : float >= 0, default 0
        L2 penalty strength λ: the optimized loss is ``loss + λ Σ_W ||W||²`` over the weight tensors
        (:func:`l2_penalty`; zhang2018 Fig. 4). The recorded ``train_loss`` excludes the penalty.
    fused : bool, default False
        The fused CPU kernel of Adam/AdamW (faster; rounds differently from the unfused one, so a run
        keeps the kernel it started with). zhang2018 and oriekhov2025 train with it.
    precision : {"float32", "bfloat16", "auto"}, default "float32"
        ``"bfloat16"``: the forward pass runs under ``torch.autocast`` in bfloat16 (matrix products and
        convolutions; AMX/AVX-512-BF16 CPUs run them several times faster), with float32 weights,
        optimizer state and loss. Evaluation and prediction stay in float32. CPUs without bfloat16
        instructions emulate it, 20–50× slower than float32 (``benchmarks/bench_base_train.py``: 31 against
        674 samples/s on an AVX2 EPYC); ``"auto"`` picks bfloat16 where the device runs it natively
        (:func:`native_bfloat16`) and float32 elsewhere. The precision a run used is in every epoch record
        (``"precision"``).
    """

    epochs: int
    batch_size: int = 640
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    schedule: Literal["constant", "cosine", "onecycle"] = "constant"
    seed: int = 0
    weight_decay: float = 0.0
    l2: float = 0.0
    fused: bool = False
    precision: Literal["float32", "bfloat16", "auto"] = "float32"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a positive number, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.optimizer not in ("sgd", "adam", "adamw"):
            raise ConfigError(f"optimizer must be 'sgd', 'adam' or 'adamw', got {self.optimizer!r}")
        if self.schedule not in ("constant", "cosine", "onecycle"):
            raise ConfigError(f"schedule must be 'constant', 'cosine' or 'onecycle', got {self.schedule!r}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not (self.l2 >= 0 and math.isfinite(self.l2)):
            raise ConfigError(f"l2 must be >= 0, got {self.l2}")
        if self.fused and self.optimizer == "sgd":
            raise ConfigError("fused applies to the adam and adamw optimizers only")
        if self.precision not in ("float32", "bfloat16", "auto"):
            raise ConfigError(f"precision must be 'float32', 'bfloat16' or 'auto', got {self.precision!r}")


def native_bfloat16(device: str | torch.device = "cpu") -> bool:
    """Whether ``device`` runs bfloat16 matrix products and convolutions in hardware.

    CUDA: ``torch.cuda.is_bf16_supported()``. CPU: AMX tiles or AVX-512-BF16 (as reported by PyTorch's
    CPU feature detection); a CPU with neither emulates bfloat16 and trains 20–50× slower than in float32.
    Any other device, or a PyTorch build without the detection: ``False``.
    """
    kind = torch.device(device).type
    if kind == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if kind != "cpu":
        return False
    probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(bool(p()) for p in probes if p is not None)


def resolve_precision(precision: str, device: str | torch.device = "cpu") -> str:
    """The precision a :class:`TrainConfig` ``precision`` trains in on ``device``: ``"auto"`` becomes
    ``"bfloat16"`` where :func:`native_bfloat16` and ``"float32"`` elsewhere; the others are returned as they are.

    Raises :class:`~topoml.errors.ConfigError` for any other value.
    """
    if precision == "auto":
        return "bfloat16" if native_bfloat16(device) else "float32"
    if precision not in ("float32", "bfloat16"):
        raise ConfigError(f"precision must be 'float32', 'bfloat16' or 'auto', got {precision!r}")
    return precision


#: Hyper-parameters a checkpoint folder written before they existed is taken to have had.
_DEFAULTS = {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}


BatchSource = Callable[[int], Iterable[tuple[torch.Tensor, torch.Tensor]]]


def _seeded_passes(n: int, seed: int) -> Callable[[int], torch.Tensor]:
    """Pass ``p`` in the permutation of a generator seeded by ``(seed, p)``."""
    return lambda p: torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(seed, p)))


def _chained_passes(n: int, seed: int) -> Callable[[int], torch.Tensor]:
    """Pass ``p`` in the ``p``-th permutation drawn by one generator seeded by ``seed`` (earlier passes replayed)."""
    state: dict = {"next": None, "last": None}

    def perm(p: int) -> torch.Tensor:
        if state["last"] is not None and state["last"][0] == p:
            return state["last"][1]
        if state["next"] is None or p < state["next"]:
            state["gen"], state["next"] = torch.Generator().manual_seed(seed), 0
        while state["next"] < p:
            torch.randperm(n, generator=state["gen"])
            state["next"] += 1
        state["last"] = (p, torch.randperm(n, generator=state["gen"]))
        state["next"] = p + 1
        return state["last"][1]

    return perm


def tensor_batches(x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray, batch_size: int,
                   seed: int = 0, samples_per_epoch: int | None = None, *,
                   shuffle: Literal["seeded", "chained"] = "seeded") -> BatchSource:
    """A batch source over in-memory data, in seeded random order.

    Without ``samples_per_epoch``, epoch ``e`` is one pass ``p = e`` over all samples. With it, the data
    are one stream of passes and epoch ``e`` is its slice ``[e·samples_per_epoch, (e+1)·samples_per_epoch)``:
    shorter epochs (more frequent checkpoints and evaluations) over a large dataset. Pass ``p`` visits
    the samples in a permutation that is a function of ``(seed, p)`` only, so a resumed run sees the
    same batches:

    * ``shuffle="seeded"`` (default): a generator seeded by :func:`topoml.rng.derive_seed` ``(seed, p)``;
    * ``shuffle="chained"``: the ``p``-th permutation of one generator seeded by ``seed`` (the order of
      the zhang2018 and oriekhov2025 runs; resuming at pass ``p`` replays the ``p`` earlier draws).

    Parameters
    ----------
    x : array of shape (n, ...), converted to float32
    y : array of shape (n, ...), converted to float32
    batch_size : int
    seed : int
    samples_per_epoch : int, optional
    shuffle : {"seeded", "chained"}, default "seeded"

    Raises
    ------
    ShapeError
        ``x`` and ``y`` differ in length or are empty.
    ConfigError
        ``samples_per_epoch < 1`` or an unknown ``shuffle``.
    InputError
        NaN/inf or non-real values.
    """
    xt = check_array(x, "x")
    yt = check_array(y, "y")
    n = len(xt)
    if n != len(yt) or n == 0:
        raise ShapeError(f"need x and y of the same non-zero length, got {n} and {len(yt)}")
    if samples_per_epoch is not None and samples_per_epoch < 1:
        raise ConfigError(f"samples_per_epoch must be >= 1, got {samples_per_epoch}")
    passes = {"seeded": _seeded_passes, "chained": _chained_passes}.get(shuffle)
    if passes is None:
        raise ConfigError(f"shuffle must be 'seeded' or 'chained', got {shuffle!r}")
    perm = passes(n, seed)

    def indices(epoch: int) -> torch.Tensor:
        if samples_per_epoch is None:
            return perm(epoch)
        a, b = epoch * samples_per_epoch, (epoch + 1) * samples_per_epoch
        return torch.cat([perm(p) for p in range(a // n, (b - 1) // n + 1)])[a - (a // n) * n:][:b - a]

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        perm = indices(epoch)
        for i in range(0, len(perm), batch_size):
            idx = perm[i : i + batch_size]
            yield xt[idx], yt[idx]

    batches.n_samples = n if samples_per_epoch is None else samples_per_epoch  # type: ignore[attr-defined]
    return batches


def interleaved(*sources: BatchSource) -> BatchSource:
    """Batches of several sources in turn, one from each (``a₀, b₀, a₁, b₁, …``), for an epoch as long as the
    shortest source's; e.g. lattices of two sizes, which cannot share a batch. Epoch ``e`` of the result
    is made of epoch ``e`` of every source, so it resumes like them.

    Raises
    ------
    ConfigError
        No source given.
    """
    if not sources:
        raise ConfigError("interleaved needs at least one batch source")

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for group in zip(*(source(epoch) for source in sources)):
            yield from group

    sizes = [getattr(source, "n_samples", None) for source in sources]
    # sources of one batch size: the shortest sets the epoch
    batches.n_samples = None if None in sizes else len(sizes) * min(sizes)  # type: ignore[attr-defined]
    return batches


def symmetry_augmented(source: BatchSource, seed: int = 0, *, translations: bool = True) -> BatchSource:
    """Wrap a batch source of ``(lattices, Chern labels)`` with the label's exact symmetries, fresh per sample.

    Each lattice of a batch gets an independent random element of the group of
    :func:`topoml.hamiltonians.pip.symmetry_group`: a cyclic translation (if ``translations``), the
    transposition with ``t₋ → −t₋`` (probability ½) and ``μ → −μ`` (probability ½; the label is negated).
    The draws of epoch ``e`` come from a generator seeded by ``(seed, e)``, so a resumed run sees the
    same augmented batches. Lattices ``(batch, N, N, 3)``, labels ``(batch,)``; ``N`` must be even
    (``μ → −μ`` needs a bipartite torus).
    """

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        gen = torch.Generator().manual_seed(derive_seed(seed, epoch, 7))
        for x, y in source(epoch):
            yield random_symmetries(x, y, gen, translations=translations)

    batches.n_samples = getattr(source, "n_samples", None)  # type: ignore[attr-defined]
    return batches


def random_symmetries(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None, *,
                      translations: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """An independent random element of the Chern label's symmetry group for each lattice of a batch.

    Lattices ``x`` ``(batch, N, N, 3)`` (``N`` even: ``μ → −μ`` needs a bipartite torus) and their labels ``y``
    ``(batch,)``, on any device; returns the transformed lattices and labels: a cyclic translation (if
    ``translations``), the transposition with ``t₋ → −t₋`` (probability ½) and ``μ → −μ`` (probability ½; the label
    is negated), as :func:`symmetry_augmented`. The draws come from ``generator`` (on its device; default: the
    global generator of ``x``'s device), in that order. Raises :class:`~topoml.errors.ShapeError` for an odd ``N``.
    """
    from topoml.nets.rg import negate_mu, transpose_lattice

    b, N = x.shape[0], x.shape[1]
    if N % 2:
        raise ShapeError(f"symmetry augmentation needs an even lattice size, got {N}")
    draw = generator.device if generator is not None else x.device
    if translations:
        shift = torch.randint(0, N, (2, b), generator=generator, device=draw).to(x.device)
        r = torch.arange(N, device=x.device)
        ii = (r[None, :] - shift[0][:, None]) % N
        jj = (r[None, :] - shift[1][:, None]) % N
        x = x[torch.arange(b, device=x.device)[:, None, None], ii[:, :, None], jj[:, None, :]]
    tr = (torch.rand(b, generator=generator, device=draw) < 0.5).to(x.device)
    x = torch.where(tr[:, None, None, None], transpose_lattice(x), x)
    sign = torch.where(torch.rand(b, generator=generator, device=draw) < 0.5, -1.0, 1.0).to(x.device, x.dtype)
    return negate_mu(x, sign), y * sign.to(y.dtype)


class StandardizedEnergies:
    """Auxiliary targets of p+ip lattices: their BdG energies (:func:`topoml.hamiltonians.pip.bdg_energies`),
    standardized per index (``(E_k − mean_k) / std_k``) with the mean and standard deviation of a reference sample.

    Parameters
    ----------
    reference : array of shape (n, N, N, 3)
        Lattices that fix the standardization (the first lattices of the training set, say), ``n >= 2``.

    Calling it on lattices ``(batch, N, N, 3)`` (a float tensor) returns float32 targets ``(batch, N²)``. The
    energies are exact invariants of the label's symmetries (``tests/train/test_auxiliary.py``), so the targets
    of an augmented lattice are those of the original.

    Raises
    ------
    ShapeError, InputError
        A reference that is not a batch of at least 2 lattices (:func:`topoml.hamiltonians.pip.check_lattice`),
        or (calling) lattices of another size.
    """

    def __init__(self, reference: np.ndarray):
        from topoml.hamiltonians.pip import bdg_energies, check_lattice

        reference = check_lattice(reference, batch=True, name="reference")
        if len(reference) < 2:
            raise ShapeError(f"need a reference sample of at least 2 lattices, got {len(reference)}")
        e = bdg_energies(reference)
        self.size = reference.shape[1]
        self.mean = e.mean(axis=0)
        self.std = np.maximum(e.std(axis=0), 1e-6)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        from topoml.hamiltonians.pip import bdg_energies

        if x.dim() != 4 or x.shape[1] != self.size:
            raise ShapeError(f"need lattices ({self.size}, {self.size}, 3) as the reference, got {tuple(x.shape)}")
        e = bdg_energies(x.detach().double().cpu().numpy())
        return torch.from_numpy(((e - self.mean) / self.std).astype(np.float32))


def auxiliary_targets(source: BatchSource, targets: Callable[[torch.Tensor], torch.Tensor]) -> BatchSource:
    """Wrap a batch source of ``(lattices, labels)``: yield ``(lattices, [label, targets(lattices)])``, targets of
    shape ``(batch, 1 + k)`` (the label in column 0), for :func:`auxiliary_loss`. Put it after
    :func:`symmetry_augmented` so that the targets are those of the lattices the network sees. Epoch ``e`` is made
    of epoch ``e`` of ``source``, so it resumes like it."""

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in source(epoch):
            a = targets(x)
            yield x, torch.cat([y.reshape(len(y), 1).to(a.dtype), a], dim=1)

    batches.n_samples = getattr(source, "n_samples", None)  # type: ignore[attr-defined]
    return batches


def decimation_batches(samples_per_epoch: int, batch_size: int, *, size: int = 8, half_range: float = 5.0,
                       seed: int = 0) -> BatchSource:
    """Lattices drawn on the fly, uniform in ``[−half_range, half_range]`` per site and channel, with their
    2×2 average pooling as target: the decimation pre-training of the RG network (margalit2022 App. B 1).

    Epoch ``e`` draws ``ceil(samples_per_epoch / batch_size)`` batches of shape ``(batch_size, size, size, 3)``
    from a generator seeded by ``(seed, e)``.
    """
    from topoml.nets.rg import decimation

    steps = math.ceil(samples_per_epoch / batch_size)

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        gen = torch.Generator().manual_seed(derive_seed(seed, epoch))
        for _ in range(steps):
            x = (torch.rand(batch_size, size, size, 3, generator=gen) * 2 - 1) * half_range
            yield x, decimation(x)

    batches.n_samples = steps * batch_size  # type: ignore[attr-defined]
    return batches


def regression_evaluator(x: np.ndarray | torch.Tensor, y: np.ndarray, batch_size: int = 8192
                         ) -> Callable[[nn.Module], dict]:
    """An ``evaluate`` callable for a :class:`Trainer`: ``val_loss`` (MSE) and ``val_accuracy``
    (:func:`topoml.evaluate.metrics.accuracy`, nearest integer == label) on ``(x, y)``.

    Raises
    ------
    InputError, ShapeError
        ``x`` or ``y`` not real and finite of shape (n, ...), n >= 1.
    """
    from topoml.evaluate.metrics import accuracy

    check_array(x, "validation x")
    check_array(y, "validation y")
    yv = np.asarray(y)

    def evaluate(net: nn.Module) -> dict:
        pv = predict(net, x, batch_size)
        return {"val_loss": float(np.mean((pv - yv) ** 2)), "val_accuracy": accuracy(pv, yv)}

    return evaluate


def curves(history: list[dict]) -> dict:
    """A :class:`Trainer` history as curves: ``train_loss`` and each evaluation metric (one value per
    epoch), the total ``seconds`` and the ``samples_per_second`` of the whole run."""
    out: dict = {"train_loss": [r["train_loss"] for r in history]}
    for k in history[0]["metrics"] if history else ():
        out[k] = [r["metrics"][k] for r in history]
    seconds = sum(r["seconds"] for r in history)
    out["seconds"] = seconds
    out["samples_per_second"] = sum(r["samples"] for r in history) / seconds if seconds > 0 else float("nan")
    return out


def _epoch_file(folder: Path, epoch: int) -> Path:
    return folder / f"epoch-{epoch:04d}.safetensors"


class Trainer:
    """Train ``net`` for ``config.epochs`` epochs, with per-epoch checkpoints in ``folder`` if given.

    Parameters
    ----------
    net : nn.Module
        Trained in place; only parameters with ``requires_grad`` are optimized.
    config : TrainConfig
    folder : path-like or None
        Checkpoint folder (created). If it holds checkpoints of an earlier run with the same
        hyper-parameters, training resumes after the last recorded epoch. ``None``: train in memory
        (no files, no resume).
    loss : callable(pred, target) -> scalar tensor, default :func:`chern_loss`
    evaluate : callable(net) -> dict of floats, optional
        Called after every epoch (metrics recorded in the history).
    select : str, optional
        Metric of ``evaluate`` to maximize for ``best.safetensors`` (default: minimize the training loss).

    Raises
    ------
    CheckpointError
        The folder holds checkpoints of a run with other hyper-parameters, or a corrupt checkpoint.
    """

    def __init__(self, net: nn.Module, config: TrainConfig, folder: str | Path | None = None, *,
                 loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = chern_loss,
                 evaluate: Callable[[nn.Module], dict] | None = None, select: str | None = None):
        self.net, self.config = net, config
        self.folder = None if folder is None else Path(folder)
        self.loss, self.evaluate, self.select = loss, evaluate, select
        self.params = [p for p in net.parameters() if p.requires_grad]
        if not self.params:
            raise ConfigError("the network has no trainable parameters")
        if config.optimizer == "sgd":
            self.opt = torch.optim.SGD(self.params, lr=config.lr, momentum=config.momentum,
                                       nesterov=config.momentum > 0)
        else:
            adam = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
            kw = {"weight_decay": config.weight_decay} if config.optimizer == "adamw" else {}
            try:
                self.opt = adam(self.params, lr=config.lr, **kw, **({"fused": True} if config.fused else {}))
            except (RuntimeError, TypeError):  # pragma: no cover - no fused kernel on this build
                self.opt = adam(self.params, lr=config.lr, **kw)
        #: "float32" or "bfloat16": ``config.precision`` on this device (:func:`resolve_precision`)
        self.precision = resolve_precision(config.precision, self.params[0].device)
        self.history: list[dict] = []
        self._best: bytes | None = None  # in memory (no folder)

    # -- checkpoints -------------------------------------------------------------------------------

    def _meta(self) -> dict[str, str]:
        return {"train_config": json.dumps(asdict(self.config), sort_keys=True)}

    def _save(self, epoch: int) -> None:
        tensors = {f"net.{k}": v.detach().contiguous().cpu() for k, v in self.net.state_dict().items()}
        opt_state = self.opt.state_dict()
        for idx, st in opt_state["state"].items():
            for name, val in st.items():
                t = val if isinstance(val, torch.Tensor) else torch.tensor(val)
                tensors[f"opt.{idx}.{name}"] = t.detach().contiguous().cpu()
        atomic_write_bytes(_epoch_file(self.folder, epoch), st_save(tensors, metadata=self._meta()))

    def _load(self, epoch: int) -> None:
        path = _epoch_file(self.folder, epoch)
        try:
            tensors = st_load(path.read_bytes())
        except (OSError, SafetensorError, ValueError) as e:
            raise CheckpointError(f"cannot read checkpoint {path}: {e}") from None
        net_state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        try:
            self.net.load_state_dict(net_state, strict=True)
        except RuntimeError as e:
            raise CheckpointError(f"checkpoint {path} does not fit the network: {str(e).splitlines()[0]}") from None
        state: dict[int, dict] = {}
        for k, v in tensors.items():
            if k.startswith("opt."):
                _, idx, name = k.split(".", 2)
                state.setdefault(int(idx), {})[name] = v
        opt_state = self.opt.state_dict()
        opt_state["state"] = state
        self.opt.load_state_dict(opt_state)

    def _resume(self) -> int:
        """Load the last finished epoch, if any; returns the next epoch to run."""
        hist_path = self.folder / "history.json"
        if not hist_path.exists():
            return 0
        try:
            record = json.loads(hist_path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise CheckpointError(f"corrupt training history {hist_path}: {e}") from None
        # A constant-rate run may be extended (more epochs); anything else must match exactly.
        ignore = {"epochs"} if self.config.schedule == "constant" else set()
        old = {k: v for k, v in {**_DEFAULTS, **record.get("train_config", {})}.items() if k not in ignore}
        if old != {k: v for k, v in asdict(self.config).items() if k not in ignore}:
            raise CheckpointError(f"{self.folder} holds a training run with other hyper-parameters; "
                                  "use another folder or delete it")
        self.history = record["epochs"]
        if not self.history:
            return 0
        self._load(self.history[-1]["epoch"])
        return self.history[-1]["epoch"] + 1

    def _write_history(self) -> None:
        record = {"train_config": asdict(self.config), "select": self.select, "best_epoch": self.best_epoch(),
                  "epochs": self.history}
        atomic_write_text(self.folder / "history.json", json.dumps(record, indent=1))

    def best_epoch(self) -> int | None:
        """The finished epoch with the best ``select`` metric (or the lowest training loss)."""
        if not self.history:
            return None
        if self.select is None:
            return min(self.history, key=lambda r: r["train_loss"])["epoch"]
        return max(self.history, key=lambda r: (r["metrics"].get(self.select, -math.inf), -r["epoch"]))["epoch"]

    # -- training ----------------------------------------------------------------------------------

    def _lr(self, step: int, total: int) -> float:
        lr = self.config.lr
        if self.config.schedule == "onecycle":
            warm = max(1, total // 20)
            if step < warm:
                return lr / 25 + (lr - lr / 25) * step / warm
            return 0.5 * lr * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
        if self.config.schedule == "cosine":
            return 0.5 * lr * (1 + math.cos(math.pi * step / total))
        return lr

    def fit(self, batches: BatchSource, *, steps_per_epoch: int | None = None,
            on_epoch: Callable[[dict], None] | None = None, progress: bool = False) -> list[dict]:
        """Train (or finish training) and return the history: one dict per epoch.

        Parameters
        ----------
        batches : callable(epoch) -> iterable of (x, target)
        steps_per_epoch : int, optional
            Needed for the cosine schedule when ``batches`` has no ``n_samples`` attribute.
        on_epoch : callable(record), optional
            Called after every epoch with its record (progress output).
        progress : bool, default False
            A tqdm bar per epoch (samples, samples/s) on stderr.
        """
        from tqdm.auto import tqdm

        start = 0
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            start = self._resume()
        if steps_per_epoch is None:
            n = getattr(batches, "n_samples", None)
            steps_per_epoch = math.ceil(n / self.config.batch_size) if n else 1
        total = steps_per_epoch * self.config.epochs
        for epoch in range(start, self.config.epochs):
            t0 = time.perf_counter()
            self.net.train()
            running, count, step = 0.0, 0, epoch * steps_per_epoch
            bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch}", unit="batch", disable=not progress,
                       leave=False, mininterval=2.0)
            for xb, yb in batches(epoch):
                for g in self.opt.param_groups:
                    g["lr"] = self._lr(step, total)
                self.opt.zero_grad(set_to_none=True)
                if self.precision == "bfloat16":
                    with torch.autocast(self.params[0].device.type, dtype=torch.bfloat16):
                        out = run_net(self.net, xb).float()
                else:
                    out = run_net(self.net, xb)
                loss = self.loss(out, yb)
                if not torch.isfinite(loss):
                    raise CheckpointError(f"training diverged at epoch {epoch} (loss {loss.item()}); "
                                          "lower the learning rate")
                (loss + self.config.l2 * l2_penalty(self.net) if self.config.l2 > 0 else loss).backward()
                self.opt.step()
                running += loss.item() * len(xb)
                count += len(xb)
                step += 1
                bar.update()
            bar.close()
            train_seconds = time.perf_counter() - t0
            metrics = self.evaluate(self.net) if self.evaluate is not None else {}
            record = {"epoch": epoch, "train_loss": running / max(count, 1), "samples": count,
                      "train_seconds": train_seconds, "seconds": time.perf_counter() - t0, "metrics": metrics,
                      "precision": self.precision}
            self.history.append(record)
            best = self.best_epoch() == epoch
            if self.folder is None:
                self._best = self.weights_bytes() if best else self._best
            else:
                self._save(epoch)
                if best:
                    atomic_write_bytes(self.folder / "best.safetensors", self.weights_bytes())
                self._write_history()
            if on_epoch is not None:
                on_epoch(record)
        return self.history

    def weights_bytes(self) -> bytes:
        """The network's current weights as safetensors bytes (loadable by :func:`topoml.train.checkpoint.load_weights`)."""
        state = {k: v.detach().contiguous().cpu() for k, v in self.net.state_dict().items()}
        return st_save(state)

    def load_best(self) -> int | None:
        """Load the best epoch's weights (``best.safetensors``, or from memory without a folder) into the
        network; returns the best epoch (None if nothing trained)."""
        from topoml.train.checkpoint import load_state_bytes, load_weights

        best = self.best_epoch()
        if best is not None and self.folder is None:
            load_state_bytes(self.net, self._best)
        elif best is not None:
            load_weights(self.net, self.folder / "best.safetensors")
        return best


def fit_arrays(net: nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, config: TrainConfig, *,
               loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = mse_loss,
               validation: tuple[np.ndarray, np.ndarray] | None = None, folder: str | Path | None = None,
               shuffle: Literal["seeded", "chained"] = "seeded") -> dict:
    """Train ``net`` in place on in-memory arrays: a :class:`Trainer` over :func:`tensor_batches`.

    Parameters
    ----------
    net : nn.Module
        Maps a float32 batch of ``x`` to outputs shaped like the targets (``(batch,)`` for ``y`` of shape (n,)).
    x : array of shape (n, ...)
    y : array of shape (n,)
        Real or integer targets (converted to float32).
    config : TrainConfig
        ``config.seed`` seeds the batch order.
    loss : callable, default :func:`mse_loss`
    validation : (x_val, y_val), optional
        Evaluated after every epoch by :func:`regression_evaluator` (``val_loss``, ``val_accuracy``).
    folder : path-like, optional
        Checkpoints and resume (default: in memory).
    shuffle : {"seeded", "chained"}
        See :func:`tensor_batches`.

    Returns
    -------
    dict
        :func:`curves` of the run (``train_loss``, ``val_loss``, ``val_accuracy``, ``seconds``,
        ``samples_per_second``).

    Raises
    ------
    ShapeError
        ``x`` and ``y`` differ in length or are empty, outputs and targets differ in shape, or ``x`` does
        not fit the network.
    InputError
        NaN/inf or non-real values in ``x``, ``y`` or the validation set.
    CheckpointError
        The loss becomes NaN/inf (training diverged): lower the learning rate.
    """
    evaluate = None if validation is None else regression_evaluator(*validation)
    trainer = Trainer(net, config, folder, loss=loss, evaluate=evaluate)
    trainer.fit(tensor_batches(x, y, config.batch_size, config.seed, shuffle=shuffle))
    return curves(trainer.history)
