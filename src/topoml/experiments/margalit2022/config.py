"""Configuration of the margalit2022 reproduction: the paper's numbers, the dataset, network and stage specs of
a profile (``configs/margalit2022.toml``), and the dataset configs they generate."""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import Field, ValidationError, field_validator

from topoml.errors import ConfigError
from topoml.runs.config import StrictModel, load_profile


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
