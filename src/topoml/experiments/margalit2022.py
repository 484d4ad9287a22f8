"""Reproduction of Margalit, Lesser, Pereg-Barnea, Oreg, "Renormalization-group-inspired neural networks
for computing topological invariants", PRB 105, 205139 (2022).

Thin driver: config → Bott-labelled datasets (:mod:`topoml.data.generate`, cached in ``<run>/data``)
→ stages (each resumable: per-epoch checkpoints by :class:`topoml.train.trainer.Trainer`, finished
stages stored as jobs of the run directory) → report. Stages:

1. ``base``: the base network on boundary-biased 4×4 lattices; model selection by 4×4 test accuracy.
2. ``decimation``: the baseline ``base ∘ decimation^k`` on 8×8, 16×16, 32×32 test sets.
3. ``rg_init``: the RG network regressed onto 2×2 average pooling on 8×8 inputs uniform in
   ``[−5, 5]`` (App. B 1).
4. ``rg``: ``base ∘ RG`` trained on 8×8 Bott labels with the base frozen, from the decimation
   initialization; after every epoch 8×8 and 16×16 accuracy; the epoch with the best 16×16 accuracy
   is kept (the paper's early stop on generalization).
5. ``rg_scratch``: the same from a random initialization.
6. ``tied``: the paper's proposed next step — ``base ∘ RG ∘ RG`` (two tied copies) trained on 16×16.
   Baseline (not in the paper, ``averages``, after ``base``): a network on the three lattice averages
   only and the clean closed formula at the averages — what can be had without reading the disorder.
   ``joint`` / ``joint_tied`` (not in the paper, issue 10; ``joint.epochs = 0`` skips them): a copy of the
   base fine-tuned together with the RG network on 8×8 (selected at 8×8), then on 16×16 (selected at
   16×16; ``joint_tied_mix`` alternates 8×8 batches with them); the shipped compound keeps the 4×4 base for
   4×4 lattices (``CompoundNet.coarse_base``), and the copy reads ``coarse_size`` lattices (8: 8×8 ones with
   no RG step, so the ``joint`` stage trains it alone). The shipped RG stage is the one with the best 16×16
   accuracy. ``direct8`` (issue 10, session 12; ``direct8.epochs = 0`` skips it): a copy of the last joint
   stage's copy trained on the 8×8 sets alone, which answers 8×8 lattices in the shipped compound
   (``CompoundNet.size_nets``); every other size keeps its route.
   ``packaged`` (issue 10, session 16; ``packaged = false`` skips it): the weights that ``topoml predict`` ships
   (``topoml/weights/margalit2022_chern.safetensors``; their 4×4 base was trained on a GPU by
   ``scripts/gpu_base_4x4.py``) scored on this run's sets like the run's own model, so that the report measures the
   product too; recomputed when the packaged file changes (its SHA-256 is recorded).
   ``parity`` (issue 10): the ground-state fermion parity (``topoml.invariants.fermion_parity``) of every
   lattice of the 4×4 to 32×32 sets of the final table, set against their Bott labels: where the disorder
   moves a label by an odd step, does the parity follow it (a closing gap) or stay with the clean phase (the
   geometry of the occupied states)? Data only, computed once.
   ``stability`` (issue 10, session 18): the Bott labels of each size's uniform scored set again, after every site
   is moved by a small fraction of the disorder widths and after 2×2 block averaging (decimation), against the
   lattices' own labels: how smooth the label is in the disorder pattern, and whether coarse graining keeps it.
   Data only, stored per set.
7. ``ablation-<row>``: base-network ablation rows (after the shipped-style model is written, so an
   interrupted run has its main table first); ``rg_ablation-<row>``: RG-stage rows behind the same
   base (own decimation pre-training ``rg_ablation-<row>-init`` when the row's RG has no ``skip``).
8. figures: phase diagrams of the reference disorder patterns (Fig. 2), accuracy per epoch (Fig. 3),
   RG flow of clean lattices (Fig. 7), a single impurity through the RG map (Fig. 8), runtime of
   Bott vs the network (Fig. 1b).

Accuracy everywhere: fraction of test lattices with ``round(output) == Bott label``; test sets are
uniform in the averages (``docs/conventions-margalit2022.md``), ``*_bb`` sets boundary-biased. The ``test`` sets
select epochs and stages; the optional ``holdout`` sets (same distributions, fresh seeds) are scored by the final
table only, and the shipped model's recorded accuracy is theirs where they exist.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Literal

import numpy as np

from pydantic import Field, ValidationError, field_validator

from topoml.errors import ConfigError
from topoml.rng import derive_seed
from topoml.runs.config import StrictModel, load_profile
from topoml.runs.executor import Engine
from topoml.runs.rundir import RunDir, atomic_write_bytes

__all__ = ["Margalit2022Config", "PAPER", "load_config", "run", "format_table", "fit_4x4", "fit_rg_init", "fit_rg",
           "train_base", "train_rg"]

#: Accuracies reported in the paper (%).
PAPER = {
    "base4": 99.02,
    "decimation": {8: 93.52, 16: 91.91},
    "rg_scratch": {8: 98.72, 16: 72.49},
    "rg": {8: 97.64, 16: 95.60},
}

DATASETS = ("train4", "test4", "train8", "test8", "test16", "test32", "train16")
#: Optional datasets: boundary-biased test sets (the authors' code validates on the training
#: distribution) and extra training data (more fresh lattices, focused on small pairing, or focused on the labels
#: next to a jump: ``train4_margin``, a dataset with ``focus``).
OPTIONAL_DATASETS = ("test4_bb", "test8_bb", "test16_bb", "test32_bb", "train4_extra", "train4b", "train4c",
                     "train4_margin",
                     "train8_extra", "train16_extra", "train16b", "train16c",
                     *(f"holdout{n}{s}" for n in (4, 8, 16, 32) for s in ("", "_bb")))
#: Sizes of the final table. ``test{n}`` select epochs and stages at 4×4, 8×8 and 16×16 (``test{n}_bb`` are
#: scored beside them; all were looked at while the profiles were tuned): the "selecting" sets. ``holdout{n}``
#: (and ``holdout{n}_bb``) are scored by the final table only. ``test32`` selects nothing.
FINAL_SIZES = (4, 8, 16, 32)
SELECTING_SETS = frozenset(f"test{n}{s}" for n in (4, 8, 16) for s in ("", "_bb"))


class DataSpec(StrictModel):
    """One labelled dataset: the compact form of a :class:`topoml.data.generate.GenerateConfig` (its
    :func:`dataset_config`); ``n_samples = 0`` skips it. ``sampling`` passes any further
    :class:`~topoml.data.sampling.SamplingSpec` field (``alpha``, ``mu_range``, ``disorder``, ...), ``focus`` the
    selection of the lattices next to a jump of the label (:class:`topoml.data.generate.MarginFocus`) and
    ``label_method`` the label route, so every dataset ``topoml generate`` can make can be a profile's."""

    lattice_size: int
    averages: Literal["uniform", "boundary_biased"]
    n_samples: int
    seed: int
    shard_size: int = 10_000
    delta_range: tuple[float, float] | None = None  # range of the average pairing; default the paper's [0.1, 0.2]
    sampling: dict = {}
    focus: dict | None = None
    label_method: Literal["bott", "localizer"] = "bott"

    @field_validator("delta_range", mode="before")
    @classmethod
    def _pair(cls, v):
        return tuple(v) if isinstance(v, list) else v  # TOML arrays are lists

    def model_post_init(self, __context) -> None:
        from topoml.data.generate import GenerateConfig

        both = {"lattice_size", "averages", "delta_range"} & set(self.sampling)
        if both:
            raise ConfigError(f"sampling.{sorted(both)[0]}: set it on the dataset itself, not in 'sampling'")
        if self.n_samples > 0:
            try:
                GenerateConfig.model_validate(dataset_config("check", self))
            except ValidationError as e:
                err = e.errors()[0]
                raise ConfigError(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None


class NetSpec(StrictModel):
    """A network: ``kind = "paper"`` (:class:`~topoml.nets.rg.BaseNet` / :class:`~topoml.nets.rg.RGNet`:
    ``width``, ``inner_width``, ``depth``, ``padding``; the RG network also ``skip``) or ``"invariant"`` (base only,
    :class:`~topoml.nets.rg.InvariantBaseNet`: ``width``, ``blocks``, ``hidden``, ``head``, ``symmetrize``)."""

    kind: Literal["paper", "invariant"] = "paper"
    width: int = 32
    inner_width: int | None = None
    depth: int = 9
    padding: Literal["zero", "periodic"] = "zero"
    blocks: int = 6
    hidden: int = 128
    head: Literal["classes", "regression"] = "classes"
    symmetrize: bool = False
    skip: Literal["none", "decimation", "averages"] = "none"  # RG network: correction on top of decimation

    @property
    def class_head(self) -> bool:
        """Whether the network outputs Chern-class logits (an invariant base with a ``classes`` head)."""
        return self.kind == "invariant" and self.head == "classes"


class StageSpec(StrictModel):
    epochs: int = 1
    batch_size: int = 640
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    schedule: Literal["constant", "cosine", "onecycle"] = "constant"
    weight_decay: float = 0.0
    # decimation pre-training: inputs drawn per epoch; base stage: epoch = this slice of the sample
    # stream (0 = one pass over the training data)
    samples_per_epoch: int = 0
    augment: bool = False  # random exact symmetries of the label per sample (symmetry_augmented), any stage
    # "auto": cross-entropy for a class head, the paper's |d| + d² for a regression head; "expected":
    # |d| + d² on a class head's expected Chern number (bounded gradients; chern_expected_loss)
    loss: Literal["auto", "expected"] = "auto"
    # "bfloat16": forward passes of training under torch.autocast; "auto": bfloat16 where the CPU/GPU runs it
    # natively, float32 elsewhere (TrainConfig.precision)
    precision: Literal["float32", "bfloat16", "auto"] = "float32"
    # base stage of an invariant base network only: a second head regresses the lattice's BdG energies,
    # standardized (AuxiliaryHead, StandardizedEnergies); loss = the class loss + aux_weight · their MSE
    aux_targets: Literal["none", "energies"] = "none"
    aux_weight: float = 1.0

    @field_validator("aux_weight")
    @classmethod
    def _weight(cls, v: float) -> float:
        if not (v >= 0 and math.isfinite(v)):
            raise ValueError(f"must be >= 0, got {v}")
        return v

    @property
    def auxiliary(self) -> bool:
        """Whether this stage trains with auxiliary targets."""
        return self.aux_targets != "none" and self.aux_weight > 0


class AblationRow(StrictModel):
    """One row of the base-network ablation: overrides of ``base_net`` and ``base``, the training sets, and the run
    seed its training draws from (``None``: the profile's ``seed``; another value repeats a row on a second seed,
    the way the table shows the seed-to-seed spread beside a lever's effect)."""

    base_net: dict = {}
    base: dict = {}
    train: list[str] = ["train4"]
    seed: int | None = Field(None, ge=0)


class RGAblationRow(StrictModel):
    """One row of the RG-stage ablation: overrides of ``rg_net``, ``rg_init`` and ``rg`` (behind the
    profile's base network, on ``rg_train``)."""

    rg_net: dict = {}
    rg_init: dict = {}
    rg: dict = {}

    def resolve(self, cfg: "Margalit2022Config", name: str) -> tuple[NetSpec, StageSpec, StageSpec]:
        try:
            net = NetSpec.model_validate({**cfg.rg_net.model_dump(), **self.rg_net})
            init = StageSpec.model_validate({**cfg.rg_init.model_dump(), **self.rg_init})
            st = StageSpec.model_validate({**cfg.rg.model_dump(), **self.rg})
        except ValidationError as e:
            err = e.errors()[0]
            raise ConfigError(f"rg_ablation.{name}.{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        if net.kind != "paper":
            raise ConfigError(f"rg_ablation.{name}.kind must be 'paper' (the invariant kind is a base network)")
        if net.skip == "none" and init.epochs < 1:
            raise ConfigError(f"rg_ablation.{name}: an RG network without skip needs rg_init.epochs >= 1")
        if st.epochs < 1 or not st.lr > 0:
            raise ConfigError(f"rg_ablation.{name}: need rg.epochs >= 1 and rg.lr > 0")
        if st.loss == "expected" and not cfg.base_net.class_head:
            raise ConfigError(f"rg_ablation.{name}: loss 'expected' needs a class-head base network")
        return net, init, st


class Margalit2022Config(StrictModel):
    """Configuration of the margalit2022 reproduction (profiles in ``configs/margalit2022.toml``)."""

    profile: str = "default"
    seed: int = 2022
    workers: int = 2
    threads: int = 2
    data: dict[str, DataSpec]
    base_net: NetSpec = NetSpec()
    rg_net: NetSpec = NetSpec(padding="periodic")
    base: StageSpec = StageSpec()
    rg_init: StageSpec = StageSpec()
    rg: StageSpec = StageSpec()
    rg_scratch: StageSpec = StageSpec()
    tied: StageSpec = StageSpec()
    # issue 10 (session 9): a copy of the base fine-tuned together with the RG network, on rg_train (joint)
    # and then joint_tied_train (joint_tied); the 4x4 base answers 4x4 lattices unchanged. 0 epochs skips it.
    joint: StageSpec = StageSpec(epochs=0)
    joint_tied: StageSpec = StageSpec(epochs=0)
    # the lattice size the base copy of the joint stages reads (CompoundNet.coarse_size): 4 puts it behind
    # RG^k down to 4x4 (session 9); 8 answers 8x8 lattices directly and larger ones after RG^k down to 8x8
    coarse_size: Literal[4, 8] = 4
    # issue 10 (session 12): a copy of the shipped stage's base copy trained on rg_train alone, that answers 8x8
    # lattices (CompoundNet.size_nets); 16x16 and larger keep the shared copy behind the RG. 0 epochs skips it.
    direct8: StageSpec = StageSpec(epochs=0)
    # the shipped model averages its prediction over the label's point symmetries (CompoundNet.symmetrize;
    # 4x the inference cost); the final table scores both modes
    symmetrize: bool = False
    # issue 10 (session 16): score the packaged weights of `topoml predict` on this run's sets (job "packaged")
    packaged: bool = True
    averages: StageSpec = StageSpec(epochs=0)  # baseline on the lattice averages only; 0 epochs skips it
    init_range: float = 5.0
    phase_diagram_stride: int = 1
    flow_size: int = 64
    runtime_sizes: list[int] = [4, 8, 16, 32, 64, 128]
    runtime_bott_max: int = 32
    ablation: dict[str, AblationRow] = {}
    rg_ablation: dict[str, RGAblationRow] = {}
    base_train: list[str] = ["train4"]  # 4×4 training sets of the base stage (e.g. + "train4_extra")
    rg_train: list[str] = ["train8"]  # 8×8 training sets of the rg and rg_scratch stages (e.g. + "train8_extra")
    tied_train: list[str] = ["train16"]  # 16×16 training sets of the tied stage (e.g. + "train16_extra")
    joint_tied_train: list[str] = ["train16"]  # 16×16 training sets of the joint_tied stage
    # 8×8 sets whose batches alternate with joint_tied_train's in the joint_tied stage (as many samples), so
    # that the base copy keeps its 8×8 accuracy while it learns the 16×16 lattices; [] trains on 16×16 only
    joint_tied_mix: list[str] = []

    def model_post_init(self, __context) -> None:
        missing = [k for k in DATASETS if k not in self.data]
        if missing:
            raise ConfigError(f"config table 'data' lacks {', '.join(missing)}")
        known = DATASETS + OPTIONAL_DATASETS
        unknown = [k for k in self.data if k not in known]
        if unknown:
            raise ConfigError(f"unknown dataset(s) in 'data': {', '.join(unknown)}; known: {', '.join(known)}")
        if self.rg_net.kind != "paper":
            raise ConfigError("rg_net.kind must be 'paper' (the invariant kind is a base network)")
        if self.base_net.skip != "none":
            raise ConfigError("base_net.skip: skip is an option of the RG network (rg_net.skip)")
        bad = [t for t in self.base_train if not t.startswith("train4") or t not in self.data]
        if bad or not self.base_train:
            raise ConfigError(f"base_train: need 4x4 training sets of 'data', got {self.base_train}")
        for key, size in (("rg_train", 8), ("tied_train", 16), ("joint_tied_train", 16)):
            sets = getattr(self, key)
            if not sets or any(not t.startswith(f"train{size}") or t not in self.data for t in sets):
                raise ConfigError(f"{key}: need {size}x{size} training sets of 'data', got {sets}")
        if any(not t.startswith("train8") or t not in self.data for t in self.joint_tied_mix):
            raise ConfigError(f"joint_tied_mix: need 8x8 training sets of 'data', got {self.joint_tied_mix}")
        for name, row in self.ablation.items():
            bad = [t for t in row.train if not t.startswith("train4") or t not in self.data]
            if bad:
                raise ConfigError(f"ablation.{name}.train: unknown 4x4 training set(s) {', '.join(bad)}")
            try:
                spec = NetSpec.model_validate({**self.base_net.model_dump(), **row.base_net})
                st = StageSpec.model_validate({**self.base.model_dump(), **row.base})
            except ValidationError as e:
                err = e.errors()[0]
                raise ConfigError(f"ablation.{name}.{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
            if st.loss == "expected" and not spec.class_head:
                raise ConfigError(f"ablation.{name}: loss 'expected' needs a class-head base network")
            if st.aux_targets != "none" and spec.kind != "invariant":
                raise ConfigError(f"ablation.{name}: aux_targets need an invariant base network (kind = 'invariant')")
        for name, rg_row in self.rg_ablation.items():
            rg_row.resolve(self, name)
        for k, d in self.data.items():
            size = int(re.match(r"(?:train|test|holdout)(\d+)", k).group(1))
            if d.lattice_size != size:
                raise ConfigError(f"data.{k}.lattice_size must be {size}, got {d.lattice_size}")
            if d.n_samples < 0 or d.shard_size < 1 or d.seed < 0:
                raise ConfigError(f"data.{k}: need n_samples >= 0, shard_size >= 1, seed >= 0")
        for k in ("train4", "test4", "train8", "test8", "test16"):
            if self.data[k].n_samples < 1:
                raise ConfigError(f"data.{k}.n_samples must be >= 1")
        if self.workers < 1 or self.threads < 1:
            raise ConfigError("workers and threads must be >= 1")
        # an RG network on top of decimation (rg_net.skip) starts as decimation: no pre-training needed
        init_min = 0 if self.rg_net.skip != "none" else 1
        for name, min_epochs in (("base", 1), ("rg_init", init_min), ("rg", 1), ("rg_scratch", 1), ("averages", 0),
                                 ("joint", 0), ("joint_tied", 0), ("direct8", 0)):
            st = getattr(self, name)
            if st.epochs < min_epochs or st.batch_size < 1 or not st.lr > 0:
                raise ConfigError(f"stage '{name}': need epochs >= {min_epochs}, batch_size >= 1, lr > 0")
        if self.joint_tied.epochs and not self.joint.epochs:
            raise ConfigError("stage 'joint_tied' continues the 'joint' stage: give joint.epochs >= 1 too")
        if self.direct8.epochs and not (self.joint.epochs and self.coarse_size == 8):
            raise ConfigError("stage 'direct8' starts from the joint stages' copy that reads 8x8 lattices: "
                              "give joint.epochs >= 1 and coarse_size = 8")
        for name in ("base", "rg", "rg_scratch", "tied", "joint", "joint_tied", "direct8"):
            if getattr(self, name).loss == "expected" and not self.base_net.class_head:
                raise ConfigError(f"stage '{name}': loss 'expected' needs a class-head base network "
                                  "(base_net.kind = 'invariant', head = 'classes')")
        for name in ("rg_init", "rg", "rg_scratch", "tied", "joint", "joint_tied", "direct8", "averages"):
            if getattr(self, name).aux_targets != "none":
                raise ConfigError(f"stage '{name}': aux_targets are an option of the base stage only")
        if self.base.aux_targets != "none" and self.base_net.kind != "invariant":
            raise ConfigError("base.aux_targets need an invariant base network (base_net.kind = 'invariant')")
        if self.rg_init.samples_per_epoch < 1:
            raise ConfigError("rg_init.samples_per_epoch must be >= 1")
        if self.tied.epochs < 0 or not self.init_range > 0 or self.phase_diagram_stride < 1:
            raise ConfigError("need tied.epochs >= 0, init_range > 0, phase_diagram_stride >= 1")
        if any(n < 4 or (n & (n - 1)) for n in self.runtime_sizes) or self.flow_size < 8 or self.flow_size & (self.flow_size - 1):
            raise ConfigError("runtime_sizes and flow_size must be powers of two (4·2^k, flow_size >= 8)")


def load_config(profile: str = "default", overrides: dict | None = None, config_file=None) -> Margalit2022Config:
    """Validated config of ``profile`` (``default`` or ``quick``) with ``overrides``."""
    return load_profile(Margalit2022Config, "margalit2022", profile, overrides, config_file)


def _log(msg: str, progress: bool = True) -> None:
    """One line per step and epoch (always; ``progress`` only switches the tqdm bars of data generation)."""
    print(f"[margalit2022 {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------------------- data
def dataset_config(name: str, spec: DataSpec) -> dict:
    """The :class:`topoml.data.generate.GenerateConfig` mapping of dataset ``name``."""
    sampling = {"lattice_size": spec.lattice_size, "averages": spec.averages, **spec.sampling}
    if spec.delta_range is not None:
        sampling["delta_range"] = list(spec.delta_range)
    out = {"name": f"margalit2022-{name}", "seed": spec.seed, "n_samples": spec.n_samples,
           "shard_size": spec.shard_size, "sampling": sampling}
    if spec.focus is not None:  # left out when absent, as in GenerateConfig.definition
        out["focus"] = dict(spec.focus)
    if spec.label_method != "bott":  # left out when "bott", as in GenerateConfig.definition
        out["label_method"] = spec.label_method
    return out


class _Data:
    """The datasets of a run, generated on first use into ``out/data/<name>`` (or reused when finished) and
    then held in memory (inputs float32 of shape (n, N, N, 3), labels int64 of shape (n,))."""

    def __init__(self, cfg: Margalit2022Config, out: Path, progress: bool, engine: Engine = "process",
                 scheduler_address: str | None = None):
        self.cfg, self.out, self.progress, self._cache = cfg, out, progress, {}
        self.engine, self.scheduler_address = engine, scheduler_address

    def __contains__(self, name: str) -> bool:
        return name in self.cfg.data and self.cfg.data[name].n_samples > 0

    def path(self, name: str) -> Path:
        from topoml.data.generate import generate_dataset

        spec, path = self.cfg.data[name], self.out / "data" / name
        _log(f"dataset {name}: {spec.n_samples} {spec.lattice_size}x{spec.lattice_size} lattices", self.progress)
        generate_dataset(dataset_config(name, spec), path, workers=self.cfg.workers, engine=self.engine,
                         scheduler_address=self.scheduler_address, progress=self.progress)
        return path

    def __getitem__(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._cache:
            self._cache[name] = _load_set(self.path(name))
        return self._cache[name]


def _load_set(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A finished dataset's inputs (float32, (n, N, N, 3)) and labels (int64, (n,))."""
    from topoml.data.store import open_dataset

    with open_dataset(path) as ds:
        return np.asarray(ds.inputs[:], dtype=np.float32), np.asarray(ds.labels[:])


# --------------------------------------------------------------------------------------- stages
def _net_kwargs(spec: NetSpec, kind: str) -> dict:
    if kind == "base" and spec.kind == "invariant":
        return {"width": spec.width, "blocks": spec.blocks, "hidden": spec.hidden, "head": spec.head,
                "symmetrize": spec.symmetrize}
    kw = {"width": spec.width, "depth": spec.depth, "padding": spec.padding}
    if kind == "rg":
        kw["inner_width"] = spec.inner_width
        if spec.skip != "none":  # left out otherwise: specs of earlier runs unchanged
            kw["skip"] = spec.skip
    return kw


def _base_net(spec: NetSpec):
    from topoml.nets.rg import BaseNet, InvariantBaseNet

    return (InvariantBaseNet if spec.kind == "invariant" else BaseNet)(**_net_kwargs(spec, "base"))


def _loss(class_head: bool, st: StageSpec):
    """The loss of stage ``st`` behind a base network with (``class_head``) or without class logits: the
    paper's |d| + d² for regression outputs; for class logits cross-entropy, or |d| + d² on the expected
    Chern number (``st.loss = "expected"``)."""
    from topoml.train.trainer import chern_class_loss, chern_expected_loss, chern_loss

    if not class_head:
        return chern_loss
    return chern_expected_loss if st.loss == "expected" else chern_class_loss


def _train_config(st: StageSpec, seed: int):
    from topoml.train.trainer import TrainConfig

    return TrainConfig(epochs=st.epochs, batch_size=st.batch_size, optimizer=st.optimizer, lr=st.lr,
                       momentum=st.momentum, schedule=st.schedule, seed=seed, weight_decay=st.weight_decay,
                       precision=st.precision)


def _predict(net, x: np.ndarray, confidence: bool = False):
    """Predicted Chern numbers (int64) of lattices ``x`` (regression rounded, classes argmax), and with
    ``confidence`` also the confidence (:func:`topoml.evaluate.predict.predict_chern`)."""
    from topoml.evaluate.predict import predict_chern

    c, _, q = predict_chern(net, x, batch_size=2048)
    return (c, q) if confidence else c


def _accuracy(net, data, name: str) -> float:
    from topoml.evaluate.metrics import accuracy

    x, y = data[name]
    return accuracy(_predict(net, x), y)


def _epoch_printer(stage: str, progress: bool):
    def show(r: dict) -> None:
        m = ", ".join(f"{k} {v:.4f}" for k, v in r["metrics"].items())
        _log(f"{stage} epoch {r['epoch']}: loss {r['train_loss']:.4f}, {m} ({r['seconds']:.0f} s)", progress)

    return show


def _training_set(data, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The sets ``names`` of ``data`` as one training set (concatenated in that order)."""
    xs, ys = zip(*(data[t] for t in names))
    return (xs[0], ys[0]) if len(xs) == 1 else (np.concatenate(xs), np.concatenate(ys))


#: lattices at the head of the training set that fix the standardization of auxiliary targets
AUX_REFERENCE = 20_000


def _training_view(net, st: StageSpec, size: int = 4):
    """What the trainer of stage ``st`` optimizes and checkpoints: ``net``, or with auxiliary targets ``net``
    inside an :class:`~topoml.nets.rg.AuxiliaryHead` (whose ``best.safetensors`` holds both heads)."""
    from topoml.nets.rg import AuxiliaryHead

    if not st.auxiliary:
        return net
    return AuxiliaryHead(net, outputs=size * size)  # the N² positive BdG energies


def fit_4x4(net, st: StageSpec, seed: int, folder: Path, data, stage: str, progress: bool, *,
            loss=None, train: tuple[str, ...] = ("train4",), size: int = 4) -> dict:
    """The 4×4 training stage (base network, ablation rows, averages baseline; also ``topoml train base``), and
    any network that reads lattices of one ``size`` directly (``direct8``: ``size = 8``).

    Trains ``net`` on the ``size``×``size`` sets ``train`` of ``data`` (a mapping name → (inputs, labels), e.g. a
    dict) with ``loss`` (default |d| + d²; symmetry augmentation if ``st.augment``; with ``st.aux_targets`` a second
    head regresses the lattices' BdG energies, standardized on the first :data:`AUX_REFERENCE` training lattices,
    and is dropped afterwards: ``net`` is what is scored and returned) and keeps the epoch with the
    best test accuracy (``acc{size}``, on ``data[f"test{size}"]``; the lowest training loss without that set);
    the boundary-biased ``test{size}_bb`` accuracy is recorded too when that set exists. Checkpoints and
    resume in ``folder``. Returns the stage's result (best epoch, its metrics, history)."""
    from topoml.train.trainer import (StandardizedEnergies, Trainer, auxiliary_loss, auxiliary_targets, chern_loss,
                                      symmetry_augmented, tensor_batches)

    def evaluate(_) -> dict:  # ``net`` itself, not the training view of an auxiliary head
        return {f"acc{size}{s}": _accuracy(net, data, f"test{size}{s}") for s in ("", "_bb") if f"test{size}{s}" in data}

    x, y = _training_set(data, train)
    model, loss = _training_view(net, st, size), loss or chern_loss
    if st.auxiliary:
        targets = StandardizedEnergies(x[:AUX_REFERENCE])
        loss = auxiliary_loss(loss, size * size, st.aux_weight)
    trainer = Trainer(model, _train_config(st, seed), folder, loss=loss, evaluate=evaluate,
                      select=f"acc{size}" if f"test{size}" in data else None)
    source = tensor_batches(x, y, st.batch_size, seed, samples_per_epoch=st.samples_per_epoch or None)
    if st.augment:
        source = symmetry_augmented(source, seed)
    if st.auxiliary:
        source = auxiliary_targets(source, targets)
    trainer.fit(source, on_epoch=_epoch_printer(stage, progress), progress=progress)
    best = trainer.load_best()
    seen = sum(r["samples"] for r in trainer.history)
    return {"best_epoch": best, **trainer.history[best]["metrics"], "train_samples": len(y),
            "samples_seen": seen, "epochs": st.epochs,
            "train_seconds": sum(r["train_seconds"] for r in trainer.history), "history": trainer.history}


def _stage_base(cfg, rd: RunDir, data: _Data, progress: bool):
    import torch

    from topoml.nets.registry import count_parameters
    from topoml.train.checkpoint import load_state_bytes

    seed = derive_seed(cfg.seed, "base")
    torch.manual_seed(seed)
    net = _base_net(cfg.base_net)
    done = rd.job_result("base")
    folder = rd.job_dir("base")
    if done is not None:
        load_state_bytes(_training_view(net, cfg.base), (folder / "best.safetensors").read_bytes())
        return net, done
    t0 = time.time()
    result = {**fit_4x4(net, cfg.base, seed, folder, data, "base", progress, loss=_loss(cfg.base_net.class_head, cfg.base),
                         train=tuple(cfg.base_train)),
              "parameters": count_parameters(net), "wall_seconds_this_session": time.time() - t0}
    rd.save_job("base", result)
    return net, result


def _stage_averages(cfg, rd: RunDir, data: _Data, progress: bool) -> dict:
    """Baselines blind to the disorder pattern: :class:`~topoml.nets.rg.AveragesNet` trained like the base
    network (same data, loss and selection), and the clean closed formula evaluated at the averages."""
    import torch

    from topoml.invariants.chern import clean_chern_number
    from topoml.nets.rg import AveragesNet

    done = rd.job_result("averages")
    if done is not None:
        return done
    seed = derive_seed(cfg.seed, "averages")
    torch.manual_seed(seed)
    net = AveragesNet()
    xt, yt = data["test4"]
    avg = xt.astype(np.float64).mean(axis=(1, 2))
    result = {**fit_4x4(net, cfg.averages, seed, rd.job_dir("averages"), data, "averages", progress),
              "net": net.config, "clean_formula_acc4": float(np.mean(clean_chern_number(avg[:, 0], avg[:, 1]) == yt))}
    rd.save_job("averages", result)
    return result


def _stage_ablation(cfg, rd: RunDir, data: _Data, progress: bool) -> dict:
    """Each row of ``cfg.ablation``: the base network and stage with the row's overrides, trained from the
    same seed (the row's own where it names one) on the row's 4×4 sets and scored on the same test sets
    (``ablation-<row>`` jobs).

    The rows are independent jobs of :meth:`RunDir.run_jobs`: ``cfg.workers`` at a time, each with one torch
    thread, so a row's result does not depend on ``cfg.workers`` (session 25, ``benchmarks/bench_parallel_rows.py``:
    on 2 cores two one-thread trainings of the default base network make 1.47x the samples/s of one two-thread
    training). Their datasets are labelled here first; each row checkpoints per epoch in its job folder and
    resumes there."""
    jobs = [{"id": f"ablation-{name}", "out": str(data.out), "train": list(row.train),
             "sets": [t for t in dict.fromkeys([*row.train, "test4", "test4_bb"]) if t in data],
             "net": {**cfg.base_net.model_dump(mode="json"), **row.base_net},
             "stage": {**cfg.base.model_dump(mode="json"), **row.base},
             "seed": cfg.seed if row.seed is None else row.seed} for name, row in cfg.ablation.items()]
    for t in dict.fromkeys(t for j in jobs for t in j["sets"]):  # labelled here, on cfg.workers processes
        data.path(t)
    done = rd.run_jobs(jobs, _ablation_job, workers=cfg.workers, engine=data.engine,
                       scheduler_address=data.scheduler_address, progress=progress, desc="ablation rows")
    out = {}
    for name in cfg.ablation:
        out[name] = done[f"ablation-{name}"]
        _log(f"ablation-{name}: 4x4 accuracy {out[name]['acc4']:.4f}", progress)
    return out


def _ablation_job(job: dict) -> tuple[dict, dict[str, bytes]]:
    """One ablation row (a :meth:`RunDir.run_jobs` worker): the network ``job["net"]`` trained with the stage
    ``job["stage"]`` from the run seed ``job["seed"]`` on the sets ``job["train"]``, in ``<out>/jobs/<id>`` (resuming
    from the epochs there), and scored; the sets ``job["sets"]`` are read from ``<out>/data``. Returns
    ``(result, {})``."""
    import torch

    from topoml.nets.registry import count_parameters

    out = Path(job["out"])
    data = {t: _load_set(out / "data" / t) for t in job["sets"]}
    spec, st = NetSpec.model_validate(job["net"]), StageSpec.model_validate(job["stage"])
    seed = derive_seed(job["seed"], "ablation")
    torch.manual_seed(seed)
    net = _base_net(spec)
    res = fit_4x4(net, st, seed, out / "jobs" / job["id"], data, job["id"], False, loss=_loss(spec.class_head, st),
                  train=tuple(job["train"]))
    res.pop("history")
    if spec.kind == "invariant" and not spec.symmetrize:  # the shipped prediction mode, beside the plain one
        net.symmetrize = True
        res.update({f"acc4{s}_group_averaged": _accuracy(net, data, f"test4{s}")
                    for s in ("", "_bb") if f"test4{s}" in data})
        net.symmetrize = False
    return {**res, "parameters": count_parameters(net), "net": spec.model_dump(), "stage": st.model_dump(),
            "train": job["train"], "seed": job["seed"], "threads": torch.get_num_threads()}, {}


def _stage_rg_ablation(cfg, rd: RunDir, base, data: _Data, progress: bool) -> dict:
    """Each row of ``cfg.rg_ablation``: an RG network with the row's ``rg_net`` (pre-trained onto
    decimation with the row's ``rg_init`` when it has no ``skip``) trained with the row's ``rg`` stage behind
    the frozen ``base`` on ``cfg.rg_train``, from the same seeds, selected like the ``rg`` stage."""
    import torch

    from topoml.nets.rg import CompoundNet, RGNet
    from topoml.nets.registry import count_parameters

    out = {}
    for name, row in cfg.rg_ablation.items():
        job = f"rg_ablation-{name}"
        done = rd.job_result(job)
        if done is None:
            net, init, st = row.resolve(cfg, name)
            torch.manual_seed(derive_seed(cfg.seed, "rg_init"))
            rg = RGNet(**_net_kwargs(net, "rg"))
            pre = 0
            if net.skip == "none":
                pre = fit_rg_init(rg, init, derive_seed(cfg.seed, "rg_init"), rd.job_dir(f"{job}-init"),
                                  cfg.init_range, progress)["samples"]
            res = fit_rg(CompoundNet(base, rg), st, derive_seed(cfg.seed, "rg"), rd.job_dir(job), data, progress,
                         job=job, train=tuple(cfg.rg_train), select="acc16", loss=_loss(cfg.base_net.class_head, st))
            res.pop("history")
            done = {**res, "net": net.model_dump(), "stage": st.model_dump(), "init_samples": pre,
                    "samples_seen": st.epochs * (st.samples_per_epoch or res["train_samples"]),
                    "parameters": count_parameters(rg)}
            rd.save_job(job, done)
        _log(f"{job}: {done['selected']}", progress)
        out[name] = done
    return out


def _sets16(cfg: Margalit2022Config, results: dict, stage: str) -> set[str]:
    """The 16×16 training sets behind the compound of RG stage ``stage`` (through the stages it started from)."""
    if stage == "tied":
        return set(cfg.tied_train)
    if stage == "joint":
        return _sets16(cfg, results, results["joint"].get("start", "rg"))
    if stage == "joint_tied":
        return set(cfg.joint_tied_train) | _sets16(cfg, results, "joint")
    return set()


def _final_table(data: _Data, comp) -> dict:
    """Every test and held-out set scored by the shipped model ``comp`` (its base at 4×4, base ∘ RG^k above; in
    its prediction mode, ``comp.symmetrize``) beside the baselines that ignore the disorder ("always 0", the
    clean phase of the averages), the accuracy of both prediction modes (``accuracy_plain``,
    ``accuracy_group_averaged``: the same weights), the confidence table, and at 4×4 the breakdown by
    distance to the phase lines and by pairing. Each row records ``selects``: whether the set chose an epoch
    or a stage (the ``test`` sets at 4×4–16×16; :func:`scored_set` prefers the held-out sets)."""
    rows = {}
    for name in (f"{kind}{n}{s}" for n in FINAL_SIZES for kind in ("test", "holdout") for s in ("", "_bb")):
        if name in data:
            rows[name] = final_row(comp, *data[name], selects=name in SELECTING_SETS)
    return rows


def _stage_packaged(rd: RunDir, data: _Data) -> dict:
    """The ``packaged`` job: the final table of the weights shipped with the package (``topoml predict``'s
    default) on this run's sets, with the file's SHA-256 and the training record of its metadata; a stored result
    is reused only while the packaged file is the same. A missing or unreadable packaged file (an installation
    without the package data) does not stop the run: the result is ``{"error": ...}``, not stored, and the report
    says so."""
    import hashlib

    from topoml.errors import CheckpointError
    from topoml.evaluate.predict import packaged_weights
    from topoml.train.checkpoint import load_model

    try:
        blob = packaged_weights().read_bytes()
        comp, meta = load_model(blob)
    except (OSError, CheckpointError) as e:
        return {"error": f"the packaged weights could not be read: {e}"}
    sha = hashlib.sha256(blob).hexdigest()
    done = rd.job_result("packaged")
    if done is not None and done.get("sha256") == sha:
        return done
    comp.eval()
    done = {"sha256": sha, "symmetrize": bool(comp.symmetrize),
            **{k: meta[k] for k in ("source", "base", "train_samples", "accuracy", "test_sets") if k in meta},
            "final": _final_table(data, comp)}
    rd.save_job("packaged", done)
    return done


#: Lattice sizes whose scored sets get the fermion-parity table (one core: about 0.4 ms per 4×4 lattice, 30–60 ms
#: per 16×16 and 6 s per 32×32 one, so the 200 lattices of ``holdout32`` cost 10 min on 2 workers). At 32×32 the
#: parity comes apart from the label (session 17, 100 uniform lattices: 27 % have parity ≠ (−1)^C).
PARITY_SIZES = (4, 8, 16, 32)


def _parity_chunk(x: np.ndarray) -> np.ndarray:
    from topoml.invariants.parity import fermion_parity

    return fermion_parity(x, on_gapless="flag").parity


def _stage_parity(cfg, rd: RunDir, data: _Data, progress: bool) -> dict:
    """The ``parity`` job (issue 10): the ground-state fermion parity of every lattice of the sets that stand for
    sizes :data:`PARITY_SIZES` in the final table (:func:`scored_set`: held-out where the run has them; uniform and
    boundary-biased), set against the Bott labels (:func:`topoml.evaluate.metrics.parity_breakdown`). Data only: no
    network; computed once (``cfg.workers`` processes, the result does not depend on them) and stored."""
    from topoml.evaluate.metrics import parity_breakdown
    from topoml.runs import executor as runs

    done = rd.job_result("parity")
    if done is not None:
        return done
    done = {}
    for n in PARITY_SIZES:
        for suffix in ("", "_bb"):
            name = scored_set(data, n, suffix)
            if name is None:
                continue
            x, y = data[name]
            step = max(1, 32768 // n ** 2)
            chunks = [x[i:i + step] for i in range(0, len(x), step)]
            parts = runs.map(_parity_chunk, chunks, workers=min(cfg.workers, len(chunks)),
                             engine="process" if cfg.workers > 1 and len(chunks) > 1 else "serial",
                             progress=progress, desc=f"parity {name}", unit="lattice", weight=len, total=len(x))
            done[name] = {"size": n, **parity_breakdown(x, y, np.concatenate(parts))}
    rd.save_job("parity", done)
    return done


#: The ``stability`` job: relative sizes of the disorder perturbations (:func:`topoml.data.sampling.perturb_disorder`)
#: and the most lattices it takes from each uniform scored set (the first ones). One core: a 32×32 Bott label costs
#: 4–9 s, so the 200 lattices of ``holdout32`` cost about 25 min on 2 workers for the two sizes of perturbation.
STABILITY_EPS = (0.01, 0.1)
STABILITY_MAX = 2000


def _stage_stability(cfg, rd: RunDir, data: _Data, progress: bool) -> dict:
    """The ``stability`` job (issue 10, session 18): how the exact label of each size's uniform scored set
    (:func:`scored_set`) responds to small changes of the disorder pattern and to coarse graining — the Bott labels
    of the same lattices with every site moved by ``eps`` times the disorder widths (:data:`STABILITY_EPS`, fresh
    zero-mean patterns, averages kept; :func:`topoml.data.sampling.perturb_disorder`), and of their 2×2 block
    averages, once and down to 4×4 (:func:`topoml.hamiltonians.pip.block_average`: decimation, then an exact label),
    each set against the lattices' own labels (:func:`topoml.evaluate.metrics.label_agreement`). Data only; at most
    :data:`STABILITY_MAX` lattices per set; seeds derived from ``cfg.seed``, labels on ``cfg.workers`` processes (the
    result does not depend on them); stored after every set, so a killed run keeps the sets it finished."""
    from topoml.data.sampling import SamplingSpec, perturb_disorder
    from topoml.evaluate.metrics import label_agreement
    from topoml.hamiltonians.pip import block_average
    from topoml.invariants.bott import bott_index

    done = rd.job_result("stability") or {}
    for n in FINAL_SIZES:
        name = scored_set(data, n)
        if name is None or name in done:
            continue
        _log(f"label stability of {name}", progress)
        x, y = data[name]
        x, y = x[:STABILITY_MAX].astype(np.float64), y[:STABILITY_MAX]
        widths = SamplingSpec.from_dict(dataset_config(name, cfg.data[name])["sampling"]).widths()
        row: dict = {"size": n, "n": len(y), "perturbed": {}, "decimated": {}}
        for k, eps in enumerate(STABILITY_EPS):
            xp = perturb_disorder(x, eps, widths, derive_seed(cfg.seed, "stability", name, k))
            labels = bott_index(xp, workers=cfg.workers, on_gapless="flag").label
            row["perturbed"][f"{eps:g}"] = label_agreement(x, y, labels)
        xc, m = x, n
        while m > 4:
            xc, m = block_average(xc), m // 2
            labels = bott_index(xc, workers=cfg.workers, on_gapless="flag").label
            row["decimated"][str(m)] = label_agreement(x, y, labels)
        done[name] = row
        rd.save_job("stability", done)
    return done


def final_row(comp, x: np.ndarray, y: np.ndarray, selects: bool = False) -> dict:
    """One row of the final table: a Chern model ``comp`` scored on lattices ``x`` ``(n, N, N, 3)`` with Bott labels
    ``y`` ``(n,)``, in its prediction mode (``comp.symmetrize``) — ``n``, ``accuracy``, the baselines that ignore the
    disorder, ``selects`` (as given), the accuracy of both modes, the confidence table and, at ``N = 4``, the
    breakdown by distance to the phase lines, by pairing and by the branch-cut margin of the Bott eigenphases
    (``scripts/ship_gpu_base.py`` scores with it too)."""
    from topoml.evaluate.metrics import accuracy_breakdown, chern_baselines, confidence_table

    shipped = comp.symmetrize
    pred, conf = _predict(comp, x, confidence=True)
    acc = float(np.mean(pred == y))
    comp.symmetrize = not shipped
    try:
        other = float(np.mean(_predict(comp, x) == y))
    finally:
        comp.symmetrize = shipped
    row = {"n": int(len(y)), "accuracy": acc, **chern_baselines(x, y), "selects": selects,
           "accuracy_plain": other if shipped else acc, "accuracy_group_averaged": acc if shipped else other,
           "confidence": confidence_table(pred, conf, y)}
    if x.shape[1] == 4:
        from topoml.invariants.bott import bott_spectrum

        row["breakdown"] = accuracy_breakdown(x, y, pred, margin=bott_spectrum(x.astype(np.float64)).margin)
    return row


def scored_set(final, n: int, suffix: str = "") -> str | None:
    """The name of the final-table row that stands for size ``n`` (``suffix`` ``""`` uniform, ``"_bb"``
    boundary-biased): the held-out set ``holdout{n}{suffix}`` when the run has one, else ``test{n}{suffix}``;
    ``None`` when neither was scored. ``final``: the final table, or anything that answers ``name in final``
    (the run's datasets)."""
    for name in (f"holdout{n}{suffix}", f"test{n}{suffix}"):
        if name in final:
            return name
    return None


def _compound_eval(data: _Data, sizes=(8, 16)):
    def evaluate(net) -> dict:
        return {f"acc{n}": _accuracy(net, data, f"test{n}") for n in sizes if f"test{n}" in data}

    return evaluate


def _stage_direct8(cfg, rd: RunDir, comp, start, data: _Data, progress: bool):
    """The ``direct8`` stage (issue 10, session 12): a copy of ``start`` (the last joint stage's copy of the base,
    which reads 8×8 lattices directly and, behind the RG network, the coarse-grained larger ones) trained on
    ``rg_train`` alone and selected by 8×8 accuracy; it becomes ``comp.size_nets[8]`` of the shipped compound
    ``comp``, so 8×8 lattices get their own network and every other size keeps its route (fine-tuning the
    shared copy on 8×8 lattices pulls it away from 16×16: session-11 pilot). Returns ``comp`` (with the new
    network in place) and the stage's result."""
    import copy

    import torch

    from topoml.train.checkpoint import load_state_bytes

    net = copy.deepcopy(start)
    for p in net.parameters():
        p.requires_grad_(True)
    net.train()
    folder, done = rd.job_dir("direct8"), rd.job_result("direct8")
    if done is None:
        seed = derive_seed(cfg.seed, "direct8")
        torch.manual_seed(seed)
        sets = {**{t: data[t] for t in cfg.rg_train}, **{k: data[k] for k in ("test8", "test8_bb") if k in data}}
        t0 = time.time()
        done = {**fit_4x4(net, cfg.direct8, seed, folder, sets, "direct8", progress,
                          loss=_loss(cfg.base_net.class_head, cfg.direct8), train=tuple(cfg.rg_train), size=8),
                "start_acc8": _accuracy(start, data, "test8"), "wall_seconds_this_session": time.time() - t0}
        rd.save_job("direct8", done)
    else:
        load_state_bytes(net, (folder / "best.safetensors").read_bytes())
    comp.size_nets["8"] = net.eval()
    return comp, done


def _stage_decimation(cfg, rd: RunDir, base, data: _Data):
    from topoml.nets.rg import CompoundNet, Decimation

    done = rd.job_result("decimation")
    if done is not None:
        return done
    comp = CompoundNet(base, Decimation())
    result = _compound_eval(data, (8, 16, 32))(comp)
    rd.save_job("decimation", result)
    return result


def _random_lattices(n: int, size: int, half_range: float, gen):
    import torch

    return (torch.rand(n, size, size, 3, generator=gen) * 2 - 1) * half_range


def _stage_rg_init(cfg, rd: RunDir, base, data: _Data, progress: bool):
    import torch

    from topoml.nets.rg import CompoundNet, RGNet
    from topoml.train.checkpoint import load_state_bytes

    seed = derive_seed(cfg.seed, "rg_init")
    torch.manual_seed(seed)
    rg = RGNet(**_net_kwargs(cfg.rg_net, "rg"))
    folder = rd.job_dir("rg_init")
    done = rd.job_result("rg_init")
    if done is not None:
        load_state_bytes(rg, (folder / "best.safetensors").read_bytes())
        return rg, done
    result = {**fit_rg_init(rg, cfg.rg_init, seed, folder, cfg.init_range, progress),
              **{f"compound_{k}": v for k, v in _compound_eval(data, (8, 16))(CompoundNet(base, rg)).items()}}
    rd.save_job("rg_init", result)
    return rg, result


def fit_rg_init(rg, st: StageSpec, seed: int, folder: Path, init_range: float, progress: bool) -> dict:
    """The decimation pre-training of an RG network (margalit2022 App. B 1; also ``topoml train rg``):
    ``rg`` regressed onto 2×2 average pooling of lattices drawn uniform in ``[−init_range, init_range]``,
    ``st.samples_per_epoch`` per epoch; the last epoch is kept (written to ``folder/best.safetensors``).
    Checkpoints and resume in ``folder``. Returns the RMS errors on held-out 8×8 and 16×16 draws per epoch.
    With ``st.epochs = 0`` (an RG network with ``skip``, which starts as decimation) nothing is trained."""
    import torch

    from topoml.nets.rg import decimation
    from topoml.train.checkpoint import state_bytes
    from topoml.train.trainer import Trainer, decimation_batches

    R = init_range
    held = {n: _random_lattices(2000, n, R, torch.Generator().manual_seed(seed + n)) for n in (8, 16)}

    def evaluate(net) -> dict:
        with torch.no_grad():
            net.eval()
            return {f"rms{n}": float(torch.sqrt(torch.mean((net(x) - decimation(x)) ** 2))) for n, x in held.items()}

    if st.epochs == 0:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / "best.safetensors", state_bytes(rg))
        return {"final_metrics": evaluate(rg), "samples": 0, "train_seconds": 0.0, "history": []}
    trainer = Trainer(rg, _train_config(st, seed), folder, evaluate=evaluate, select=None)
    trainer.fit(decimation_batches(st.samples_per_epoch, st.batch_size, half_range=R, seed=seed),
                on_epoch=_epoch_printer("rg_init", progress), progress=progress)
    # keep the last epoch (the regression target is fixed; no selection on test labels)
    atomic_write_bytes(folder / "best.safetensors", trainer.weights_bytes())
    return {"final_metrics": trainer.history[-1]["metrics"], "samples": st.samples_per_epoch * st.epochs,
            "train_seconds": sum(r["train_seconds"] for r in trainer.history), "history": trainer.history}


def _stage_rg(cfg, rd: RunDir, base, rg_start, data: _Data, progress: bool, *, job: str, st: StageSpec,
              train: str | tuple[str, ...], select: str, eval_sizes=(8, 16), coarse_base=None,
              mix: tuple[str, ...] = ()):
    from topoml.nets.rg import CompoundNet
    from topoml.train.checkpoint import load_state_bytes

    comp = CompoundNet(base, rg_start, coarse_base=coarse_base,
                       coarse_size=cfg.coarse_size if coarse_base is not None else None)
    folder = rd.job_dir(job)
    done = rd.job_result(job)
    if done is not None:
        kept = "start.safetensors" if done["best_epoch"] == -1 else "best.safetensors"
        load_state_bytes(comp, (folder / kept).read_bytes())
        return comp, done
    result = fit_rg(comp, st, derive_seed(cfg.seed, job), folder, data, progress, job=job, train=train,
                    select=select, eval_sizes=eval_sizes, loss=_loss(cfg.base_net.class_head, st), mix=mix)
    rd.save_job(job, result)
    return comp, result


def fit_rg(comp, st: StageSpec, seed: int, folder: Path, data, progress: bool, *, job: str,
           train: str | tuple[str, ...], select: str | None, eval_sizes=(8, 16), loss=None,
           mix: tuple[str, ...] = ()) -> dict:
    """An RG training stage (``rg``, ``rg_scratch``, ``tied``, ``joint``, ``joint_tied``; also ``topoml train
    rg``): the compound ``comp = base ∘ RG^k`` (base frozen; its ``coarse_base`` trained too, if it has one)
    trained with ``loss`` (default |d| + d²) on the set ``data[train]``
    (or the concatenation of several; an epoch is one pass, or ``st.samples_per_epoch`` samples of the
    stream of passes; each sample under a random exact symmetry of the label if ``st.augment``; with
    ``mix``, batches of those sets, as many samples, alternate with them: lattices of another size),
    evaluated after every epoch on ``test{n}`` for ``n`` in ``eval_sizes`` (those in ``data``, a mapping
    name → (inputs, labels)); the epoch with the best ``select`` metric is kept (loaded into ``comp``;
    ``None``: the lowest training loss). The start point is a candidate too (the paper's early stop on
    generalization, at zero epochs): when no trained epoch beats its ``select`` metric, the start is kept
    (``best_epoch = -1``, weights in ``folder/start.safetensors``). Checkpoints and resume in ``folder``.
    Returns the stage's result."""
    import torch

    from topoml.train.checkpoint import load_state_bytes, state_bytes
    from topoml.train.trainer import Trainer, chern_loss, interleaved, symmetry_augmented, tensor_batches

    evaluate = _compound_eval(data, eval_sizes)
    start = state_bytes(comp)
    initial = evaluate(comp)
    trainer = Trainer(comp, _train_config(st, seed), folder, evaluate=evaluate, select=select,
                      loss=loss or chern_loss)
    x, y = _training_set(data, (train,) if isinstance(train, str) else train)
    torch.manual_seed(seed)
    source = tensor_batches(x, y, st.batch_size, seed, samples_per_epoch=st.samples_per_epoch or None)
    if mix:
        xm, ym = _training_set(data, tuple(mix))
        source = interleaved(source, tensor_batches(xm, ym, st.batch_size, derive_seed(seed, "mix"),
                                                    samples_per_epoch=source.n_samples))
    if st.augment:
        source = symmetry_augmented(source, seed)
    trainer.fit(source, on_epoch=_epoch_printer(job, progress), progress=progress)
    best_8 = max(trainer.history, key=lambda r: (r["metrics"].get("acc8", 0), -r["epoch"]))["epoch"]
    best = trainer.load_best()
    selected = trainer.history[best]["metrics"]
    if select is not None and initial.get(select, -math.inf) > selected.get(select, -math.inf):
        atomic_write_bytes(folder / "start.safetensors", start)
        load_state_bytes(comp, start)  # no trained epoch generalizes better than the start point
        best, selected = -1, dict(initial)
    result = {"initial": initial, "best_epoch": best, "best_epoch_by_acc8": best_8, "mix": list(mix),
              "selected": selected, "at_best_acc8": trainer.history[best_8]["metrics"],
              "final": trainer.history[-1]["metrics"], "select": select, "train_samples": len(y),
              "epochs": st.epochs, "train_seconds": sum(r["train_seconds"] for r in trainer.history),
              "history": trainer.history}
    if "test32" in data:
        result["selected"]["acc32"] = _accuracy(comp, data, "test32")
        result["n_test32"] = len(data["test32"][1])
    return result


def train_base(cfg: Margalit2022Config, data, folder: Path, progress: bool = False):
    """``topoml train base``: the base stage of profile ``cfg`` (its ``base_net``, ``base`` stage and seed)
    on ``data`` (``{"train4": (x, y)}`` plus an optional ``"test4"`` that selects the epoch), checkpoints in
    ``folder``. Returns ``(net, (registry name, kwargs), result)``; the same network as ``reproduce``'s
    base stage on the same data."""
    import torch

    seed = derive_seed(cfg.seed, "base")
    torch.manual_seed(seed)
    net = _base_net(cfg.base_net)
    result = fit_4x4(net, cfg.base, seed, folder, data, "base", progress, loss=_loss(cfg.base_net.class_head, cfg.base))
    name = "margalit2022.base_invariant" if cfg.base_net.kind == "invariant" else "margalit2022.base"
    return net, (name, _net_kwargs(cfg.base_net, "base")), result


def train_rg(cfg: Margalit2022Config, base, data, train: str, folder: Path, init_folder: Path, *,
             random_init: bool = False, select: str | None = None, progress: bool = False):
    """``topoml train rg``: an RG network of profile ``cfg`` (``rg_net``; stage ``rg`` after the ``rg_init``
    decimation pre-training in ``init_folder``, or ``rg_scratch`` from a random initialization) inside
    ``base ∘ RG^k`` (``base`` frozen; class loss for a class head), trained on ``data[train]``, evaluated on
    every ``test{n}`` of ``data`` and selected by ``select``. Returns ``(compound, rg kwargs, result)``."""
    import torch

    from topoml.nets.rg import CompoundNet, RGNet
    job = "rg_scratch" if random_init else "rg"
    torch.manual_seed(derive_seed(cfg.seed, "rg_scratch_init" if random_init else "rg_init"))
    rg = RGNet(**_net_kwargs(cfg.rg_net, "rg"))
    if not random_init:
        fit_rg_init(rg, cfg.rg_init, derive_seed(cfg.seed, "rg_init"), init_folder, cfg.init_range, progress)
    comp = CompoundNet(base, rg)
    sizes = sorted(int(k[4:]) for k in data if k.startswith("test"))
    st = getattr(cfg, job)
    loss = _loss(getattr(base, "config", {}).get("head") == "classes", st)
    result = fit_rg(comp, st, derive_seed(cfg.seed, job), folder, data, progress, job=job,
                    train=train, select=select, eval_sizes=tuple(sizes), loss=loss)
    return comp, _net_kwargs(cfg.rg_net, "rg"), result


# --------------------------------------------------------------------------------------- figures
def _fig_phase_diagrams(cfg, rd: RunDir, base) -> dict:
    from topoml.data.reference import find_shared_data, load_margalit2022_reference
    from topoml.hamiltonians.pip import disordered_lattice
    from matplotlib.figure import Figure

    from topoml.plotting.phase_diagram import plot_phase_diagram

    folder = find_shared_data("margalit2022")
    if folder is None:
        return {"skipped": "reference data not found (../shared/data/margalit2022 or $TOPOML_SHARED_DATA)"}
    out, s = {}, cfg.phase_diagram_stride
    for k in (1, 2, 3):
        ref = load_margalit2022_reference(folder / f"data_{k}.mat")
        mu, tm = ref.mu_bar[::s], ref.t_minus_bar[::s]
        x = disordered_lattice(mu[:, None], tm[None, :], 0.15, ref.disorder).astype(np.float32)
        pred = _predict(base, x.reshape(-1, 4, 4, 3)).reshape(len(mu), len(tm))
        label = ref.label[::s, ::s]
        out[f"data_{k}"] = {"agreement": float(np.mean(pred == label)), "points": int(label.size)}
        fig = Figure(figsize=(9.5, 3.8))
        axes = fig.subplots(1, 2, gridspec_kw={"wspace": 0.4})  # room for the colour bar label
        plot_phase_diagram(label, mu, tm, ax=axes[0], title=f"Bott (reference data_{k})")
        plot_phase_diagram(pred, mu, tm, ax=axes[1],
                           title=f"base network ({100 * out[f'data_{k}']['agreement']:.2f} % agree)")
        out[f"data_{k}"]["figure"] = rd.savefig(fig, f"fig2_phase_diagram_{k}")
    return out


def _fig_epochs(rd: RunDir, results: dict) -> str:
    from matplotlib.figure import Figure

    from topoml.plotting import epoch_axis

    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, job, title in zip(axes, ("rg", "rg_scratch"), ("decimation init", "random init")):
        r = results.get(job)
        if not r:
            continue
        ep = [-1] + [h["epoch"] for h in r["history"]]
        for n, c in ((8, "C0"), (16, "C1")):
            acc = [r["initial"].get(f"acc{n}", np.nan)] + [h["metrics"].get(f"acc{n}", np.nan) for h in r["history"]]
            ax.plot(np.array(ep) + 1, 100 * np.array(acc), "o-", color=c, label=f"{n}×{n}")
        ax.axvline(r["best_epoch"] + 1, color="gray", ls=":", label="selected")
        epoch_axis(ax, "epoch (0 = initialization)")
        ax.set_title(f"RG network, {title}")
        ax.legend()
    axes[0].set_ylabel("accuracy (%)")
    return rd.savefig(fig, "fig3_accuracy_per_epoch")


def _fig_flow(cfg, rd: RunDir, rg) -> dict:
    """Fig. 7: clean lattices of size ``flow_size`` through repeated RG steps, in the (μ̄/2, t̄₋) plane."""
    import torch
    from matplotlib.figure import Figure

    n = cfg.flow_size
    steps = int(math.log2(n // 4))
    mus = np.linspace(-3.5, 3.5, 8)
    tms = np.linspace(-1.75, 1.75, 8)
    starts = np.array([(m, t) for m in mus for t in tms])
    x = np.zeros((len(starts), n, n, 3), np.float32)
    x[..., 0] = starts[:, 0, None, None]
    x[..., 1] = starts[:, 1, None, None]
    x[..., 2] = 0.15
    traj = [np.c_[starts, np.full(len(starts), 0.15)]]
    h = torch.from_numpy(x)
    with torch.no_grad():
        rg.eval()
        for _ in range(steps):
            h = rg(h)
            traj.append(h.mean(dim=(1, 2)).double().numpy())
    traj = np.stack(traj, 1)  # (points, steps+1, 3)
    fig = Figure(figsize=(5.5, 4.2))
    ax = fig.subplots()
    for p in traj:
        ax.plot(p[:, 0] / 2, p[:, 1], "-", color="0.6", lw=0.8)
        ax.plot(p[-1, 0] / 2, p[-1, 1], "o", ms=3, color="C3")
        ax.plot(p[0, 0] / 2, p[0, 1], ".", ms=3, color="C0")
    for s in (-1, 1):
        ax.axvline(s, color="k", lw=0.6)
        ax.plot([-2, 2], [s * -2, s * 2], "k", lw=0.6)
    ax.set_xlim(-2.2, 2.2)
    ax.set_ylim(-2.2, 2.2)
    ax.set_xlabel("μ̄/2")
    ax.set_ylabel("t̄₋")
    ax.set_title(f"RG flow of clean {n}×{n} lattices ({steps} steps; blue start, red end)")
    drift = np.abs(traj[:, -1, :2] - traj[:, 0, :2]).mean(axis=0)
    spread = float(np.max(np.std(h.numpy(), axis=(1, 2))))
    return {"figure": rd.savefig(fig, "fig7_rg_flow"), "steps": steps,
            "mean_abs_drift_mu_tminus": drift.tolist(), "max_site_std_after": spread}


def _fig_impurity(rd: RunDir, rg) -> dict:
    """Fig. 8: a single impurity δμ at site (4, 6) of a clean 8×8 lattice (μ₀ = 0.5, t₋ = 1, Δ = 0.15)."""
    import torch
    from matplotlib.figure import Figure

    dmus = [0.0, 1.0, 2.0, 4.0]
    x = np.zeros((len(dmus), 8, 8, 3), np.float32)
    x[..., 0], x[..., 1], x[..., 2] = 0.5, 1.0, 0.15
    for i, d in enumerate(dmus):
        x[i, 4, 6, 0] += d
    with torch.no_grad():
        rg.eval()
        y = rg(torch.from_numpy(x)).numpy()
    fig = Figure(figsize=(3 * len(dmus), 3))
    axes = fig.subplots(1, len(dmus))
    for ax, d, yi in zip(axes, dmus, y):
        im = ax.imshow(yi[..., 0].T - 0.5, origin="lower", cmap="RdBu_r", vmin=-0.6, vmax=0.6)
        ax.set_title(f"δμ = {d}: μ' − μ₀")
        ax.set_xlabel("i (x)")
    fig.colorbar(im, ax=axes.tolist(), shrink=0.8)
    block = (2, 3)  # the coarse site containing (4, 6)
    dev = [float(np.abs(yi[..., 0] - y[0][..., 0]).max()) for yi in y]
    local = [float(yi[block + (0,)] - y[0][block + (0,)]) for yi in y]
    return {"figure": rd.savefig(fig, "fig8_impurity"), "delta_mu": dmus, "max_change_mu": dev,
            "change_at_parent_site": local, "clean_output_mean": y[0].mean(axis=(0, 1)).tolist()}


def _fig_runtime(rd: RunDir, rows: list[dict]) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    ns = [r["N"] for r in rows]
    ax.loglog(ns, [r["network_s"] for r in rows], "o-", label="base ∘ RG^k (network)")
    nb = [r["N"] for r in rows if "bott_s" in r]
    ax.loglog(nb, [r["bott_s"] for r in rows if "bott_s" in r], "s-", label="Bott index")
    ax.set_xlabel("lattice size N")
    ax.set_ylabel("seconds per lattice (1 thread)")
    ax.legend()
    return rd.savefig(fig, "fig1b_runtime")


# --------------------------------------------------------------------------------------- driver
def run(cfg: Margalit2022Config, out: str | Path, progress: bool = True, engine: Engine = "process",
        scheduler_address: str | None = None) -> dict:
    """Run (or resume) the reproduction into ``out`` (locked meanwhile); returns the summary (also
    ``summary.json``). The datasets are generated on ``engine`` with ``cfg.workers`` workers (the data do
    not depend on either); the trainings run in this process with ``cfg.threads`` torch threads, except the
    ablation rows: ``cfg.workers`` at a time with one thread each (their results do not depend on ``workers``)."""
    out = Path(out)
    with RunDir(out, cfg.model_dump(), seed=cfg.seed) as rd:
        return _run(cfg, out, rd, progress, engine, scheduler_address)


def _run(cfg: Margalit2022Config, out: Path, rd: RunDir, progress: bool, engine: Engine,
         scheduler_address: str | None) -> dict:
    import torch

    from topoml.nets.registry import count_parameters
    from topoml.train.checkpoint import model_bytes

    torch.set_num_threads(cfg.threads)
    t_start = time.time()
    data = _Data(cfg, out, progress, engine, scheduler_address)
    results: dict = {"datasets": {k: v.n_samples for k, v in cfg.data.items() if v.n_samples}}

    _log("stage base", progress)
    base, results["base"] = _stage_base(cfg, rd, data, progress)
    _log(f"base: 4x4 accuracy {results['base']['acc4']:.4f}", progress)
    if cfg.averages.epochs > 0:
        results["averages"] = _stage_averages(cfg, rd, data, progress)
        _log(f"averages-only baseline: 4x4 accuracy {results['averages']['acc4']:.4f}", progress)
    results["decimation"] = _stage_decimation(cfg, rd, base, data)
    _log(f"decimation + base: {results['decimation']}", progress)
    rg0, results["rg_init"] = _stage_rg_init(cfg, rd, base, data, progress)
    import copy

    comp, results["rg"] = _stage_rg(cfg, rd, base, copy.deepcopy(rg0), data, progress, job="rg", st=cfg.rg,
                                    train=tuple(cfg.rg_train), select="acc16")
    _log(f"rg (decimation init): {results['rg']['selected']}", progress)
    torch.manual_seed(derive_seed(cfg.seed, "rg_scratch_init"))
    from topoml.nets.rg import RGNet

    scratch = RGNet(**_net_kwargs(cfg.rg_net, "rg"))
    _, results["rg_scratch"] = _stage_rg(cfg, rd, base, scratch, data, progress, job="rg_scratch",
                                         st=cfg.rg_scratch, train=tuple(cfg.rg_train), select="acc8")
    _log(f"rg (random init): {results['rg_scratch']['selected']}", progress)
    candidates = {"rg": comp}  # stage -> compound; the shipped model: the best 16x16 accuracy (earliest on ties)
    if cfg.tied.epochs > 0 and all(t in data for t in cfg.tied_train):
        candidates["tied"], results["tied"] = _stage_rg(
            cfg, rd, base, copy.deepcopy(comp.rg), data, progress, job="tied", st=cfg.tied, train=tuple(cfg.tied_train),
            select="acc16", eval_sizes=(8, 16, 32))
        _log(f"tied 16x16 stage: {results['tied']['selected']}", progress)
    if cfg.joint.epochs > 0:
        # a copy of the base fine-tuned with the RG network (issue 10): at 8x8 (selected at 8x8), then at
        # 16x16 (selected at 16x16), from the better of the RG stages so far; the 4x4 base stays as it is
        start = max(candidates, key=lambda s: results[s]["selected"]["acc16"])
        joint, results["joint"] = _stage_rg(
            cfg, rd, base, copy.deepcopy(candidates[start].rg), data, progress, job="joint", st=cfg.joint,
            train=tuple(cfg.rg_train), select="acc8", eval_sizes=(8, 16, 32), coarse_base=copy.deepcopy(base))
        results["joint"]["start"] = start
        candidates["joint"] = joint
        _log(f"joint 8x8 stage: {results['joint']['selected']}", progress)
        if cfg.joint_tied.epochs > 0 and all(t in data for t in cfg.joint_tied_train + cfg.joint_tied_mix):
            candidates["joint_tied"], results["joint_tied"] = _stage_rg(
                cfg, rd, base, copy.deepcopy(joint.rg), data, progress, job="joint_tied", st=cfg.joint_tied,
                train=tuple(cfg.joint_tied_train), select="acc16", eval_sizes=(8, 16, 32),
                coarse_base=copy.deepcopy(joint.coarse_base), mix=tuple(cfg.joint_tied_mix))
            _log(f"joint 16x16 stage: {results['joint_tied']['selected']}", progress)
    model_stage = max(candidates, key=lambda s: results[s]["selected"]["acc16"])
    comp = candidates[model_stage]
    if cfg.direct8.epochs > 0:
        last_joint = candidates["joint_tied" if "joint_tied" in candidates else "joint"]
        comp, results["direct8"] = _stage_direct8(cfg, rd, comp, last_joint.coarse_base, data, progress)
        _log(f"direct8 stage: 8x8 accuracy {results['direct8']['acc8']:.4f}", progress)
    comp.symmetrize = cfg.symmetrize
    results["model_stage"], results["symmetrize"] = model_stage, cfg.symmetrize
    results["final"] = _final_table(data, comp)
    results["final"]["model_stage"] = model_stage

    # the shipped-style model: base + the RG network of the stage with the best 16x16 accuracy; its recorded
    # accuracy is the final table's (uniform held-out sets where the run has them, the shipped prediction mode)
    spec = {"base": _net_kwargs(cfg.base_net, "base"), "rg": _net_kwargs(cfg.rg_net, "rg"),
            "base_kind": cfg.base_net.kind, **({"coarse_base": True} if comp.coarse_base is not None else {}),
            **({"coarse_size": comp.coarse_size} if comp.coarse_size != comp.base_size else {}),
            **({"symmetrize": True} if comp.symmetrize else {}),
            **({"size_nets": sorted(int(n) for n in comp.size_nets)} if len(comp.size_nets) else {})}
    used16 = sorted(_sets16(cfg, results, model_stage))
    fin = results["final"]
    scored = {str(n): name for n in FINAL_SIZES if (name := scored_set(fin, n))}
    meta = {"accuracy": {n: fin[k]["accuracy"] for n, k in scored.items()},
            "always_zero": {n: fin[k]["always_zero"] for n, k in scored.items()},
            "test_sets": scored, "held_out": {n: not fin[k]["selects"] for n, k in scored.items()},
            "stage": model_stage, "symmetrize": comp.symmetrize, "source": "topoml reproduce margalit2022",
            "profile": cfg.profile,
            "train_samples": {"4x4": sum(cfg.data[t].n_samples for t in cfg.base_train), "8x8": sum(cfg.data[t].n_samples for t in cfg.rg_train),
                              **({"16x16": sum(cfg.data[t].n_samples for t in used16)} if used16 else {})}}
    rd.write_bytes("model.safetensors", model_bytes(comp, "margalit2022.chern", spec, meta))
    results["parameters"] = {"base": count_parameters(_base_net(cfg.base_net)), "rg": count_parameters(comp.rg)}
    if cfg.packaged:
        _log("packaged weights", progress)
        results["packaged"] = _stage_packaged(rd, data)
    _log("fermion parity of the scored sets", progress)
    results["parity"] = _stage_parity(cfg, rd, data, progress)
    results["stability"] = _stage_stability(cfg, rd, data, progress)
    # the ablation rows run after the shipped-style model is written, so an interrupted run has its
    # main table first; each row is its own resumable job
    if cfg.ablation:
        results["ablation"] = _stage_ablation(cfg, rd, data, progress)
    if cfg.rg_ablation:
        results["rg_ablation"] = _stage_rg_ablation(cfg, rd, base, data, progress)

    _log("figures", progress)
    figs = {"phase_diagrams": _fig_phase_diagrams(cfg, rd, base), "accuracy_per_epoch": _fig_epochs(rd, results),
            "rg_flow": _fig_flow(cfg, rd, comp.rg), "impurity": _fig_impurity(rd, comp.rg)}
    torch.set_num_threads(1)
    from topoml.evaluate.timing import runtime_table

    rows = runtime_table(comp, cfg.runtime_sizes, cfg.runtime_bott_max)
    torch.set_num_threads(cfg.threads)
    figs["runtime"] = {"rows": rows, "figure": _fig_runtime(rd, rows)}
    results["figures"] = figs
    results["wall_seconds_last_session"] = time.time() - t_start
    rd.write_json("summary.json", results)
    rd.write_text("report.md", report(cfg, results))
    return results


def _epoch_name(epoch: int) -> str:
    return "the start point (no trained epoch beat it)" if epoch == -1 else f"epoch {epoch}"


def _pct(v) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f} %"


def _binom(p: float, n: int) -> str:
    se = 100 * math.sqrt(max(p * (1 - p), 1.0 / n) / n)
    return f"{_pct(p)} ± {se:.2f}" if se < 0.1 else f"{_pct(p)} ± {se:.1f}"


def format_table(summary: dict) -> str:
    """The paper-vs-ours table (markdown)."""
    r = summary
    d, rg, sc = r["decimation"], r["rg"], r["rg_scratch"]
    rows = [("base, 4×4", f"{PAPER['base4']:.2f} %", _pct(r["base"]["acc4"]))]
    if "averages" in r:
        rows += [("baseline blind to disorder, 4×4: clean formula at the averages / network on the averages "
                  "(not in the paper)", "—",
                  f"{_pct(r['averages']['clean_formula_acc4'])} / {_pct(r['averages']['acc4'])}")]
    rows += [
        ("decimation + base, 8×8 / 16×16", f"{PAPER['decimation'][8]:.2f} / {PAPER['decimation'][16]:.2f} %",
         f"{_pct(d.get('acc8'))} / {_pct(d.get('acc16'))}"),
        ("RG without decimation init, 8×8 / 16×16", f"{PAPER['rg_scratch'][8]:.2f} / {PAPER['rg_scratch'][16]:.2f} %",
         f"{_pct(sc['selected'].get('acc8'))} / {_pct(sc['selected'].get('acc16'))}"),
        ("RG with decimation init, 8×8 / 16×16", f"{PAPER['rg'][8]:.2f} / {PAPER['rg'][16]:.2f} %",
         f"{_pct(rg['selected'].get('acc8'))} / {_pct(rg['selected'].get('acc16'))}"),
    ]
    if "acc32" in rg["selected"]:
        rows.append(("RG with decimation init, 32×32 (not in the paper)", "—",
                     _binom(rg["selected"]["acc32"], rg.get("n_test32", 1)) + f" (n = {rg.get('n_test32')})"))
    if "tied" in r:
        t = r["tied"]["selected"]
        rows.append(("+ tied 16×16 stage, 8×8 / 16×16 / 32×32", "(proposed, not done)",
                     f"{_pct(t.get('acc8'))} / {_pct(t.get('acc16'))} / {_pct(t.get('acc32'))}"))
    for key, what in (("joint", "8×8"), ("joint_tied", "then 16×16")):
        if key in r:
            t = r[key]["selected"]
            rows.append((f"+ base copy fine-tuned with the RG ({what}), 8×8 / 16×16 / 32×32", "(not in the paper)",
                         f"{_pct(t.get('acc8'))} / {_pct(t.get('acc16'))} / {_pct(t.get('acc32'))}"))
    if "direct8" in r:
        rows.append(("+ an 8×8 copy of its own, trained on 8×8 alone (8×8; larger sizes unchanged)", "(not in the paper)",
                     _pct(r["direct8"]["acc8"])))
    lines = ["| | paper | ours |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


_PAPER_BY_SIZE = {4: PAPER["base4"], 8: PAPER["rg"][8], 16: PAPER["rg"][16]}


def _size_rows(fin: dict):
    """For each size of a final table ``fin`` that has a scored set: ``(n, names, cells)`` — the uniform and
    boundary-biased set names that stand for it (:func:`scored_set`) and the markdown cells shared by the tables:
    paper, accuracy ± SE with the set for each, "always 0" and "clean phase" (uniform / biased)."""
    for n in FINAL_SIZES:
        names = [scored_set(fin, n, s) for s in ("", "_bb")]
        rows = [fin.get(k) if k else None for k in names]
        if rows == [None, None]:
            continue

        def acc(k, r):
            return "—" if r is None else _binom(r["accuracy"], r["n"]) + f" (`{k}`, n = {r['n']:,})"

        def pair(key):
            return " / ".join("—" if r is None else _pct(r[key]) for r in rows)

        paper = f"{_PAPER_BY_SIZE[n]:.2f} %" if n in _PAPER_BY_SIZE else "—"
        yield n, names, {"paper": paper, "acc": [acc(k, r) for k, r in zip(names, rows)],
                         "always_zero": pair("always_zero"), "clean_phase": pair("clean_phase")}


def format_final_table(summary: dict) -> str:
    """Final table (markdown): the shipped model on the held-out sets of every size (the test sets where a
    size has none) beside the paper and the two baselines, and on the test sets that selected its epochs."""
    fin = summary.get("final", {})
    lines = ["| size | paper | ours, uniform | ours, boundary-biased | always 0 (uniform / biased) | "
             "clean phase of the averages (uniform / biased) | same model on the selection sets (uniform / biased) |",
             "|---|---|---|---|---|---|---|"]
    for n, names, c in _size_rows(fin):
        sel = [fin.get(f"test{n}{s}") for s in ("", "_bb")]
        sel = " / ".join("—" if r is None or k is None or not k.startswith("holdout") else _pct(r["accuracy"])
                         for r, k in zip(sel, names))
        lines.append(f"| {n}×{n} | {c['paper']} | {c['acc'][0]} | {c['acc'][1]} | {c['always_zero']} | "
                     f"{c['clean_phase']} | {sel} |")
    return "\n".join(lines)


def _stage_cost(cfg: Margalit2022Config, r: dict, key: str) -> tuple[int, float]:
    """``(samples seen, training seconds)`` of stage ``key`` in a run's summary ``r`` (a mixed stage sees its
    alternating batches too)."""
    v = r[key]
    if key == "rg_init":
        return v["samples"], v["train_seconds"]
    if "samples_seen" in v:
        return v["samples_seen"], v["train_seconds"]
    per_epoch = getattr(cfg, key).samples_per_epoch or v["train_samples"]
    return v["epochs"] * per_epoch * (2 if v.get("mix") else 1), v["train_seconds"]


def _route(r: dict, n: int) -> list[str]:
    """The stages whose training is behind the run's model at size ``n``, in order: the base at 4×4, the ``direct8``
    copy at 8×8 when the run has one, else the chain of RG stages that led to the shipped one."""
    def chain(stage: str) -> list[str]:
        if stage == "rg":
            return ["base", "rg_init", "rg"]
        start = {"tied": "rg", "joint": r.get("joint", {}).get("start", "rg"), "joint_tied": "joint",
                 "direct8": "joint_tied" if "joint_tied" in r else "joint"}[stage]
        return chain(start) + [stage]

    if n == 4:
        return ["base"]
    return chain("direct8" if n == 8 and "direct8" in r else r.get("model_stage", "rg"))


_STAGE_SETS = {"base": ("base_train",), "rg": ("rg_train",), "joint": ("rg_train",), "direct8": ("rg_train",),
               "tied": ("tied_train",), "joint_tied": ("joint_tied_train", "joint_tied_mix")}


def format_cost_table(cfg: Margalit2022Config, r: dict) -> str:
    """What the run's model cost at each size of the final table (markdown): the stages behind its answer, the
    Bott-labelled training lattices they read, the samples they saw and their training wall time."""
    lines = [f"Training behind the run's model at each size (wall time of the training epochs with {cfg.threads} "
             "torch thread(s); labels and evaluation excluded):", "",
             "| size | stages | Bott-labelled training lattices | samples seen | training time |", "|---|---|---|---|---|"]
    fin = r.get("final", {})
    for n in FINAL_SIZES:
        if not (scored_set(fin, n) or scored_set(fin, n, "_bb")):
            continue
        stages = [k for k in _route(r, n) if k in r]
        sets = {t for k in stages for attr in _STAGE_SETS.get(k, ()) for t in getattr(cfg, attr)}
        seen, sec = (sum(c) for c in zip(*(_stage_cost(cfg, r, k) for k in stages)))
        lines.append(f"| {n}×{n} | {' → '.join(stages)} | {sum(cfg.data[t].n_samples for t in sets):,} | {seen:,} | "
                     + (f"{sec / 3600:.2f} h |" if sec >= 36 else f"{sec:.0f} s |"))
    return "\n".join(lines)


def format_modes_table(summary: dict) -> str:
    """The shipped model's two prediction modes, the same weights: plain, and averaged over the label's
    point symmetries (markdown), on the sets of the final table."""
    fin = summary.get("final", {})
    mode = "group-averaged" if summary.get("symmetrize") else "plain"
    lines = [f"Prediction modes of the same weights (the shipped model predicts **{mode}**; group-averaged = "
             "log-probabilities averaged over identity, transposition with t₋ → −t₋, μ → −μ and both, 4× the "
             "inference cost; the sets of the final table):", "",
             "| size | plain, uniform / biased | group-averaged, uniform / biased |", "|---|---|---|"]
    for n in FINAL_SIZES:
        u, b = (fin.get(k) if k else None for k in (scored_set(fin, n, s) for s in ("", "_bb")))
        if u is None and b is None:
            continue
        cells = [" / ".join("—" if r is None else _pct(r[key]) for r in (u, b))
                 for key in ("accuracy_plain", "accuracy_group_averaged")]
        lines.append(f"| {n}×{n} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def format_parity_table(parity: dict) -> str:
    """The ``parity`` job's tables (markdown): per scored set, where the Bott labels and the fermion parity
    disagree; at 4×4 also by distance to the clean phase lines and by Δ̄ (:func:`topoml.evaluate.metrics.parity_breakdown`)."""
    def cells(v):
        return (f"{v['n']:,} | {_pct(v['disorder_decided'])} | {v['odd_changes']:,} | {_pct(v['follows_clean'])} | "
                f"{_pct(v['mismatch'])} | {v['gapless']:,}")

    head = ("lattices | labels decided by the disorder | of them, odd steps (the parity can tell) | parity of the clean "
            "phase on those | parity ≠ (−1)^C (gapped lattices) | gapless")
    lines = ["The fermion parity sign Pf(K) (`topoml.invariants.fermion_parity`) equals (−1)^C on clean lattices and "
             "changes only where the many-body gap closes. Where the disorder moves the Bott label away from the "
             "clean phase of the averages by an odd step, a parity that stays with the clean phase says the label "
             "moved through the geometry of the occupied states, not through a closing gap.", "",
             f"| set | {head} |", "|---|" + "---|" * 6]
    lines += [f"| `{k}` | {cells(v['all'])} |" for k, v in parity.items()]
    for k, v in parity.items():
        if v["size"] != 4:
            continue
        lines += ["", f"`{k}` by bin:", "", f"| bin | {head} |", "|---|" + "---|" * 6]
        for key, name in (("distance", "distance d of (μ̄/2, t̄₋)"), ("delta", "Δ̄")):
            lines += [f"| {name} ∈ [{b['lo']:g}, {b['hi']:g}) | {cells(b)} |" for b in v[key]]
    return "\n".join(lines)


def format_stability_table(stability: dict) -> str:
    """The ``stability`` job's table (markdown): per uniform scored set, and within it for the lattices whose
    averages are in a topological clean phase, how often the Bott label survives small changes of the disorder
    pattern and coarse graining (:func:`topoml.evaluate.metrics.label_agreement`)."""
    eps = sorted({e for v in stability.values() for e in v["perturbed"]}, key=float)
    dec = sorted({m for v in stability.values() for m in v["decimated"]}, key=int, reverse=True)

    def cell(a):
        if a is None or not a["n"]:
            return "—"
        nz = f"{_pct(a['kept_nonzero'])} of {a['nonzero']:,}" if a["nonzero"] else "none"
        return f"{_pct(a['agree'])} ({nz})"

    head = ([f"moved by {e} × the disorder widths" for e in eps]
            + [f"2×2 block averages to {m}×{m}, then Bott" for m in dec])
    lines = ["The same lattices, labelled again after a change that a predictor could hardly tell: every site moved by a "
             "fresh zero-mean disorder pattern a fraction of the size's disorder widths (averages kept), or the "
             "lattice coarse grained by 2×2 block averages (decimation, the RG network's starting map; Sec. III of the "
             "paper) — the share of labels that stay the same (in brackets: of the C ≠ 0 labels). A predictor that "
             "answers alike for a lattice and its perturbation is right on at most one of the two where their labels "
             "differ; \"decimation, then Bott\" is decimation + a perfect base network.", "",
             "| set | lattices | always 0 | " + " | ".join(head) + " |", "|---|" + "---|" * (2 + len(head))]
    for name, v in stability.items():
        for part, what in (("all", f"`{name}`"), ("topological", f"`{name}`, averages in a C ≠ 0 clean phase")):
            first = v["perturbed"].get(eps[0]) if eps else None
            ref = first or next(iter(v["decimated"].values()), None)
            if ref is None or not ref[part]["n"]:
                continue
            cells = [cell(v["perturbed"].get(e, {}).get(part)) for e in eps]
            cells += [cell(v["decimated"].get(m, {}).get(part)) for m in dec]
            lines.append(f"| {what} | {ref[part]['n']:,} | {_pct(ref[part]['always_zero'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_packaged_table(summary: dict) -> str:
    """The packaged weights (``topoml predict``'s default) on this run's sets (markdown; ``""`` when the run did not
    score them): the final table's columns, with this run's own model beside them."""
    from topoml.evaluate.predict import PACKAGED_MODEL

    pk = summary.get("packaged")
    if not pk:
        return ""
    if "error" in pk:
        return f"Not scored: {pk['error']}."
    fin, own = pk["final"], summary.get("final", {})
    base = pk.get("base", {})
    trained = (f"; training of its 4×4 base: {base['source']}, {base['samples_seen']:,} samples seen"
               + (f" of {pk['train_samples']['4x4']:,} labelled lattices" if "4x4" in pk.get("train_samples", {}) else "")
               if "source" in base and "samples_seen" in base else "")
    lines = [f"`topoml predict` without `--weights` uses the packaged `topoml/weights/{PACKAGED_MODEL}` (SHA-256 "
             f"`{pk['sha256'][:16]}…`, source: {pk.get('source', 'unrecorded')}{trained}; it predicts "
             f"{'group-averaged' if pk.get('symmetrize') else 'plain'}). Scored here like this run's model; a `test` "
             "set of this run with the seed of a set that selected the packaged model's epochs is not held out "
             "for it either.", "",
             "| size | paper | packaged, uniform | packaged, boundary-biased | this run's model, uniform / biased | "
             "always 0 (uniform / biased) | clean phase of the averages (uniform / biased) |",
             "|---|---|---|---|---|---|---|"]
    for n, names, c in _size_rows(fin):
        mine = " / ".join("—" if own.get(k) is None else _pct(own[k]["accuracy"]) for k in names)
        lines.append(f"| {n}×{n} | {c['paper']} | {c['acc'][0]} | {c['acc'][1]} | {mine} | {c['always_zero']} | "
                     f"{c['clean_phase']} |")
    return "\n".join(lines)


def _net_desc(net: dict) -> str:
    if net["kind"] == "invariant":
        return (f"invariant (circular padding, mean+max pool) width {net['width']}, {net['blocks']} residual blocks, "
                f"{net['head']} head{', group-averaged' if net.get('symmetrize') else ''}")
    return f"paper ResNet width {net['width']}, depth {net['depth']}, {net['padding']} padding"


def format_ablation_table(summary: dict) -> str:
    """Base-network ablation rows (markdown): the same test sets and selection for every row, and the same run seed
    except where the seed column says otherwise (a row repeated on another seed measures the spread); the training
    minutes are each row's epochs summed, evaluation excluded, with the torch threads of its job (one since session
    25, ``workers`` rows at a time; ``threads`` of the run before; rows of another depth or width differ in
    compute)."""
    rows = summary.get("ablation", {})
    lines = ["| row | network | head / loss | augment | optimizer, peak lr, schedule | training data | seed | "
             "samples seen | parameters | training minutes | 4×4 uniform | 4×4 boundary-biased | "
             "group-averaged: uniform / biased |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        net, st = r["net"], r["stage"]
        desc = _net_desc(net)
        head = ("classes / cross-entropy" if net["head"] == "classes" else "regression / \\|d\\| + d²") \
            if net["kind"] == "invariant" else "regression / \\|d\\| + d²"
        if st.get("aux_targets", "none") != "none" and st.get("aux_weight", 1.0) > 0:
            head += f" + {st['aux_weight']:g} × MSE of the BdG energies (auxiliary head)"
        minutes = "—" if r.get("train_seconds") is None else f"{r['train_seconds'] / 60:.1f}"
        lines.append(f"| {name} | {desc} | {head} | {'yes' if st['augment'] else 'no'} | "
                     f"{st['optimizer']}, {st['lr']:g}, {st['schedule']} | {' + '.join(r['train'])} | "
                     f"{r.get('seed', '—')} | {r['samples_seen']:,} | {r['parameters']:,} | {minutes} | "
                     f"{_pct(r['acc4'])} | {_pct(r.get('acc4_bb'))} | {_pct(r.get('acc4_group_averaged'))} / "
                     f"{_pct(r.get('acc4_bb_group_averaged'))} |")
    return "\n".join(lines)


def format_rg_ablation_table(summary: dict) -> str:
    """RG-stage ablation rows (markdown), beside the run's own ``rg`` stage."""
    def accs(r):
        return " | ".join(_pct(r["selected"].get(f"acc{n}")) for n in (8, 16, 32))

    lines = ["| row | RG network | start | optimizer, lr | samples seen | 8×8 | 16×16 | 32×32 |", "|---|---|---|---|---|---|---|---|",
             f"| rg (the run's stage) | | | | | {accs(summary['rg'])} |"]
    for name, r in summary.get("rg_ablation", {}).items():
        net, st = r["net"], r["stage"]
        start = "decimation (skip)" if net["skip"] != "none" else f"pre-trained onto decimation ({r['init_samples']:,})"
        lines.append(f"| {name} | width {net['width']}, skip = {net['skip']} | {start} | {st['optimizer']}, {st['lr']:g} | "
                     f"{r['samples_seen']:,} | {accs(r)} |")
    return "\n".join(lines)


def report(cfg: Margalit2022Config, r: dict) -> str:
    """The markdown report of a finished run."""
    b, ri, rg, sc = r["base"], r["rg_init"], r["rg"], r["rg_scratch"]
    hours = (b["train_seconds"] + ri["train_seconds"] + rg["train_seconds"] + sc["train_seconds"]
             + sum(r.get(k, {}).get("train_seconds", 0) for k in ("tied", "joint", "joint_tied", "direct8"))) / 3600
    sets16 = set().union(*(_sets16(cfg, r, k) for k in ("tied", "joint", "joint_tied") if k in r))
    n_train = sum(cfg.data[t].n_samples for t in set(cfg.base_train + cfg.rg_train) | sets16)
    f = r["figures"]
    lines = [
        "# margalit2022 — RG networks for Chern numbers of disordered p+ip lattices",
        "",
        f"Profile `{cfg.profile}`. Networks: base {_net_desc(cfg.base_net.model_dump())} "
        f"({r['parameters']['base']:,} parameters; the paper: width 256, zero padding, 4.7 M); "
        f"RG width {cfg.rg_net.width}/{cfg.rg_net.inner_width or cfg.rg_net.width}, {cfg.rg_net.padding} padding "
        f"({r['parameters']['rg']:,} parameters; the paper: 256/512, about 18 M).",
        f"Training data: {n_train:,} Bott-labelled lattices ({100 * n_train / 1.6e8:.2f} % of the paper's "
        f"1e8 + 5e7 + (init) 5e7 = 1.6e8) plus {ri['samples']:,} random lattices for the decimation pre-training; "
        f"training wall time {hours:.2f} h with {cfg.threads} torch thread(s) (epochs summed, baselines excluded).",
        f"Model written to `model.safetensors` (and figures 1b, 7, 8): base + the RG network of stage "
        f"`{r.get('model_stage', 'rg')}` (the best 16×16 accuracy of the RG stages "
        + ", ".join(f"`{k}`" for k in ("rg", "tied", "joint", "joint_tied") if k in r) + ")"
        + ("; behind the RG network a copy of the base fine-tuned with it, the 4×4 base unchanged."
           if r.get("model_stage", "").startswith("joint") else "."),
        "Accuracy = fraction of uniform test lattices with round(output) = Bott label; test sets: "
        + ", ".join(f"{k} {v:,}" for k, v in r["datasets"].items() if k.startswith(("test", "holdout"))) + ".",
        "",
        format_table(r),
        "",
        "## Final table: the shipped model on uniform and boundary-biased test sets, with the baselines",
        "",
        "The paper's text says its test sets are uniform in the averages; the authors' code validates on "
        "the boundary-biased training distribution. Both are scored here; ± is one binomial standard error. "
        "The `test` sets at 4×4–16×16 chose the epochs and the shipped stage (the paper's protocol) and were "
        "looked at while the profile was tuned; the `holdout` sets, same distributions and fresh seeds, were "
        "touched by nothing but this table, so they are the measured accuracy wherever a size has one (the "
        "last column shows the optimism of the selection sets).",
        "",
        format_final_table(r),
        "",
        format_cost_table(cfg, r),
        "",
        format_modes_table(r),
        "",
    ]
    if r.get("packaged"):
        lines += ["## The packaged weights of `topoml predict` on the same sets", "", format_packaged_table(r), ""]
    fin = r.get("final", {})
    shown = [k for k in (scored_set(fin, n, s) for n in FINAL_SIZES for s in ("", "_bb")) if k]
    for k in shown:
        v = fin[k]
        if "breakdown" not in v:
            continue
        lines += [f"### 4×4 accuracy of the shipped base network on `{k}`, by distance to the clean phase lines, by Δ̄ "
                  "and by the branch-cut margin", "",
                  "The margin π − max |θ| of the eigenphases θ of V U V† U† (`BottSpectrum.margin`): where it is small, "
                  "a small change of the lattice moves an eigenphase across the cut and the label with it.", "",
                  "| bin | lattices | network | clean phase of the averages | labels decided by the disorder | "
                  "network on those |", "|---|---|---|---|---|---|"]
        for key, name in (("distance", "distance d of (μ̄/2, t̄₋)"), ("delta", "Δ̄"), ("margin", "margin (rad)")):
            for row in v["breakdown"].get(key, []):
                lines.append(f"| {name} ∈ [{row['lo']:g}, {row['hi']:g}) | {row['n']:,} | {_pct(row['accuracy'])} | "
                             f"{_pct(row['clean_phase'])} | {_pct(row['disorder_decided'])} | "
                             f"{_pct(row.get('accuracy_decided'))} |")
        lines.append("")
    if r.get("parity"):
        lines += ["## Bott labels and the ground-state fermion parity", "", format_parity_table(r["parity"]), ""]
    if r.get("stability"):
        lines += ["## How stable the label is: small changes of the disorder, and coarse graining", "",
                  format_stability_table(r["stability"]), ""]
    conf_rows = [(k, fin[k]["confidence"]) for k in shown if "confidence" in fin[k]]
    if conf_rows:
        lines += ["## Confidence (what `topoml predict` prints) against accuracy", "",
                  "| test set | " + " | ".join(f"conf. {x['lo']}–{x['hi']}: share / acc." for x in conf_rows[0][1]["bins"])
                  + " | " + " | ".join(f"cut {c['cut']}: kept / acc. kept / acc. flagged" for c in conf_rows[0][1]["cuts"])
                  + " |", "|---|" + "---|" * (len(conf_rows[0][1]["bins"]) + len(conf_rows[0][1]["cuts"]))]
        for k, t in conf_rows:
            lines.append(f"| {k} | " + " | ".join(f"{_pct(x['fraction'])} / {_pct(x['accuracy'])}" for x in t["bins"])
                         + " | " + " | ".join(f"{_pct(c['kept'])} / {_pct(c['accuracy_kept'])} / {_pct(c['accuracy_flagged'])}"
                                              for c in t["cuts"]) + " |")
        lines.append("")
    if r.get("ablation"):
        threads = sorted({a.get("threads") for a in r["ablation"].values()} - {None})
        lines += ["## Base-network ablation (same test sets and model selection; the run seed unless a row names "
                  "its own)", "", format_ablation_table(r), ""]
        if threads:
            lines += [f"Each row trained with {'/'.join(map(str, threads))} torch thread(s), {cfg.workers} row(s) at a "
                      "time: its minutes compare with the other rows', not with the stages above.", ""]
    if r.get("rg_ablation"):
        lines += ["## RG-stage ablation (same base, seeds, training sets and selection as the rg stage)", "",
                  format_rg_ablation_table(r), ""]
    lines += [
        "## Stages",
        "",
        f"* base: {cfg.base.optimizer}, lr {cfg.base.lr}, batch {cfg.base.batch_size}, {cfg.base.schedule} schedule, "
        f"{cfg.base.epochs} epochs ({b.get('samples_seen', b['train_samples'] * cfg.base.epochs):,} samples seen"
        f"{', each with a random exact symmetry' if cfg.base.augment else ''}) over {b['train_samples']:,} "
        f"boundary-biased 4×4 lattices; best epoch {b['best_epoch']} by 4×4 (uniform) test accuracy.",
    ]
    if "averages" in r:
        av = r["averages"]
        net = av["net"]
        lines.append(f"* baseline blind to the disorder pattern: a perceptron on the three lattice averages "
                     f"({net['depth']} hidden layers of {net['width']}) trained like the base network "
                     f"({cfg.averages.optimizer}, lr {cfg.averages.lr}, batch {cfg.averages.batch_size}, "
                     f"{cfg.averages.epochs} epochs, {av['train_seconds']:.0f} s) reaches {_pct(av['acc4'])} on 4×4; "
                     f"the clean closed formula at the averages {_pct(av['clean_formula_acc4'])}. The base network's "
                     f"margin over it, {100 * (b['acc4'] - av['acc4']):+.2f} points, is what it learned from the disorder.")
    lines += [
        (f"* decimation pre-training: {ri['samples']:,} lattices uniform in [−{cfg.init_range}, {cfg.init_range}]; "
         if ri["samples"] else f"* no decimation pre-training: the RG network (skip = {cfg.rg_net.skip}) is a "
         "correction on top of 2×2 block averaging that starts at zero; ")
        + f"RMS distance from 2×2 average pooling on held-out 8×8 / 16×16 inputs "
        f"{ri['final_metrics']['rms8']:.3f} / {ri['final_metrics']['rms16']:.3f}; base ∘ RG_init accuracy "
        f"8×8 {_pct(ri.get('compound_acc8'))}, 16×16 {_pct(ri.get('compound_acc16'))}.",
        f"* RG with decimation init: {cfg.rg.optimizer}, lr {cfg.rg.lr}, batch {cfg.rg.batch_size}, {cfg.rg.epochs} epochs "
        + (f"of {cfg.rg.samples_per_epoch:,} samples " if cfg.rg.samples_per_epoch else "")
        + f"over {rg['train_samples']:,} 8×8 lattices; selected {_epoch_name(rg['best_epoch'])} (best 16×16 accuracy, "
        f"the paper's early stop); at the best 8×8 epoch ({rg['best_epoch_by_acc8']}): {rg['at_best_acc8']}; "
        f"final epoch: {rg['final']}.",
        f"* RG from random init: selected {_epoch_name(sc['best_epoch'])} by 8×8 accuracy; final epoch: {sc['final']}.",
    ]
    if "tied" in r:
        t = r["tied"]
        lines.append(f"* tied 16×16 stage (two copies of one RG network, the paper's proposed next step): "
                     f"{cfg.tied.epochs} epochs over {t['train_samples']:,} 16×16 lattices from the selected RG; "
                     f"before: {t['initial']}; selected {_epoch_name(t['best_epoch'])}: {t['selected']}.")
    for key, size, sets, sel in (("joint", 8, cfg.rg_train, "8×8"), ("joint_tied", 16, cfg.joint_tied_train, "16×16")):
        if key in r:
            t, st = r[key], getattr(cfg, key)
            reads = (f"; the copy reads {cfg.coarse_size}×{cfg.coarse_size} lattices, after RG^k down to that size"
                     + (", so at 8×8 it trains alone, with no RG step" if cfg.coarse_size == 8 else ""))
            lines.append(f"* {key} ({size}×{size}): a copy of the base fine-tuned together with the RG network{reads} "
                         f"({st.optimizer}, lr {st.lr:g}, batch {st.batch_size}, {st.epochs} epochs"
                         + (f" of {st.samples_per_epoch:,} samples" if st.samples_per_epoch else "")
                         + f" over {t['train_samples']:,} lattices of {', '.join(sets)}"
                         + (f", batches alternating with as many of {', '.join(t['mix'])}" if t.get("mix") else "")
                         + f"); before: {t['initial']}; "
                         f"selected {_epoch_name(t['best_epoch'])} by {sel} accuracy: {t['selected']}.")
    if "direct8" in r:
        t, st = r["direct8"], cfg.direct8
        lines.append(f"* direct8 (8×8): a copy of the shipped stage's base copy trained on {', '.join(cfg.rg_train)} alone "
                     f"({st.optimizer}, lr {st.lr:g}, batch {st.batch_size}, {st.epochs} epochs"
                     + (f" of {st.samples_per_epoch:,} samples" if st.samples_per_epoch else "")
                     + f"), which answers 8×8 lattices in the shipped model (16×16 and larger keep the shared copy); "
                     f"8×8 accuracy {_pct(t['start_acc8'])} before, {_pct(t['acc8'])} at the selected "
                     f"{_epoch_name(t['best_epoch'])}.")
    lines += ["", "## Figures", ""]
    pd = f["phase_diagrams"]
    if "skipped" in pd:
        lines.append(f"* Fig. 2 (phase diagrams): skipped — {pd['skipped']}.")
    else:
        for k, v in pd.items():
            lines.append(f"* Fig. 2, reference disorder `{k}`: base network agrees with the Bott labels on "
                         f"{_pct(v['agreement'])} of {v['points']:,} grid points — ![]({v['figure']})")
    lines.append(f"* Fig. 3, accuracy per epoch: ![]({f['accuracy_per_epoch']})")
    fl = f["rg_flow"]
    lines.append(f"* Fig. 7, RG flow of clean {cfg.flow_size}×{cfg.flow_size} lattices ({fl['steps']} steps): mean |drift| of "
                 f"(μ̄, t̄₋) {np.round(fl['mean_abs_drift_mu_tminus'], 3).tolist()}; largest site-to-site std after the "
                 f"flow {fl['max_site_std_after']:.3f} — ![]({fl['figure']})")
    im = f["impurity"]
    lines.append(f"* Fig. 8, single impurity δμ ∈ {im['delta_mu']} at site (4, 6) of a clean 8×8 lattice: change of μ' at "
                 f"the parent coarse site (2, 3) {np.round(im['change_at_parent_site'], 3).tolist()}, largest change anywhere "
                 f"{np.round(im['max_change_mu'], 3).tolist()} — ![]({im['figure']})")
    lines += ["", "## Runtime (Fig. 1b; one thread, seconds per lattice)", "",
              "| N | network | Bott | Bott / network |", "|---|---|---|---|"]
    for row in f["runtime"]["rows"]:
        lines.append(f"| {row['N']} | {row['network_s']:.2e} | "
                     + (f"{row['bott_s']:.2e} | {row['speedup']:.3g}× |" if "bott_s" in row else "not run (too slow) | — |"))
    lines += ["", f"![]({f['runtime']['figure']})", ""]
    return "\n".join(lines) + "\n"
