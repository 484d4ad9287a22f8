"""Generate Bott-labelled datasets of disordered p+ip lattices (margalit2022), sharded and resumable.

A dataset is defined by a :class:`GenerateConfig` (usually a TOML file, see
``topoml/experiments/configs/margalit2022_data_example.toml``)::

    name = "margalit2022-4x4-train"
    seed = 20220501
    n_samples = 1_000_000
    shard_size = 10_000

    [sampling]                      # topoml.data.sampling.SamplingSpec
    lattice_size = 4
    averages = "boundary_biased"    # or "uniform" (test sets)

    [run]                           # how to run it (does not change the data)
    out_dir = "data/margalit2022-4x4-train"
    workers = 2
    engine = "process"              # or "dask", or "serial"

The samples are split into ``ceil(n_samples / shard_size)`` shards; shard ``k`` draws its lattices from
``np.random.SeedSequence(seed).spawn(n_shards)[k]`` (:func:`topoml.data.sampling.sample_lattices`),
rounds them to float32 (the stored precision, so labels belong to the stored inputs exactly) and labels
them with :func:`topoml.invariants.bott.bott_index`. A shard is a pure function of (config, k), so the
dataset is identical for any number of workers and either engine. :func:`shard_inputs` returns a shard's
lattices alone (no labels, nothing written), for studies that label them their own way.

Focused datasets: ``focus = { margin = 1.0, keep_others = 0.33 }`` (:class:`MarginFocus`) keeps every drawn
lattice whose Bott label lies within ``margin`` radians of a jump (:attr:`topoml.invariants.bott.BottSpectrum.margin`,
the distance of the eigenphase of ``V U V† U†`` nearest the branch cut at ``±π``) and each other one with probability
``keep_others``, drawing from the shard's generator until the shard is full: still a pure function of (config, k).
The labels the network finds hardest are next to such a jump (README, margalit2022), so a training set that holds
more of them teaches more per sample.

Execution: the shards are the tasks of :func:`topoml.runs.executor.map`: a process pool
(``engine="process"``, one BLAS thread per worker), Dask distributed (``engine="dask"``: a ``LocalCluster``
of single-threaded worker processes, or an existing scheduler at ``scheduler_address`` whose workers share
the output filesystem), or the calling process one shard after the other (``engine="serial"``, with one
BLAS thread too: multi-threaded BLAS makes the small eigensolves many times slower).

Resuming: each shard file is written atomically (:func:`topoml.runs.rundir.atomic_path`), so after an
interruption (Ctrl-C, SIGKILL, a crash) the folder holds only complete shards plus hidden temporaries.
Running :func:`generate_dataset` again with the same config and folder keeps the finished shards (checked,
not recomputed), removes the temporaries, computes the rest and writes the final manifest; the result is
identical to an uninterrupted run. A folder holding a different dataset is refused, and so is a folder
another run is writing to (:class:`topoml.runs.rundir.FolderLock`); a finished dataset is left untouched.
On Ctrl-C (or a worker's error) the run stops at once: queued shards are cancelled, running ones are
abandoned, finished ones are kept (see :mod:`topoml.runs.executor` for how Ctrl-C is handled safely).

Progress: a tqdm bar (samples, samples/s) updated after every label batch (process and serial engines,
:func:`topoml.runs.executor.report_progress`) or every shard (Dask). The returned
:class:`GenerationSummary` (a dict that prints as a report) and the manifest hold the label histogram and
gap statistics.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
from pydantic import Field, model_validator

from topoml.data import store
from topoml.data.sampling import SamplingSpec, sample_lattices
from topoml.errors import ConfigError, DatasetError, InputError
from topoml.invariants.bott import bott_index, bott_spectrum
from topoml.provenance import environment_info
from topoml.runs.config import StrictModel, read_toml
from topoml.runs.executor import Executor, report_progress
from topoml.runs.rundir import FolderLock, writable_folder

__all__ = [
    "GenerateConfig",
    "MarginFocus",
    "GenerationSummary",
    "RunOptions",
    "format_summary",
    "generate_dataset",
    "load_config",
    "packaged_config",
    "shard_inputs",
    "summarize_dataset",
]

#: Upper bound on BdG matrix memory per label batch (complex128 entries): keeps 16x16 batches small.
_BATCH_BYTES = 1 << 23
_MAX_BATCH = 1024
_LOCK_NAME = ".generate.lock"


# ---------------------------------------------------------------------------------------------- config


class RunOptions(StrictModel):
    """How to run a generation (does not change the data).

    Attributes
    ----------
    out_dir : str, optional
        Output folder (relative paths are relative to the working directory).
    workers : int >= 1, optional
        Worker processes; default: the CPUs available to this process, at most the number of shards.
    engine : {"process", "dask", "serial"}, default "process"
    scheduler_address : str, optional
        Address of a running Dask scheduler (``engine="dask"`` only).
    progress : bool, default True
        Show a tqdm progress bar (on stderr).
    """

    out_dir: str | None = None
    workers: int | None = Field(None, ge=1)
    engine: Literal["process", "dask", "serial"] = "process"
    scheduler_address: str | None = None
    progress: bool = True


class MarginFocus(StrictModel):
    """Sampling focused on the labels next to a jump (a :class:`GenerateConfig` option, ``focus``).

    Each drawn lattice is labelled with its Bott spectrum (:func:`topoml.invariants.bott.bott_spectrum`); it is kept
    when its branch-cut margin ``π − max_k |θ_k|`` is below ``margin``, and otherwise with probability
    ``keep_others`` (a uniform number drawn from the shard's generator after each round of lattices). With
    ``margin = 1`` and ``keep_others = 0.33``, about half of a boundary-biased 4×4 training set lies within 1 rad of
    the cut (a quarter of the drawn lattices do), for about twice the labels.

    Attributes
    ----------
    margin : float in (0, π], default 1.0
        Radians; lattices with a smaller margin are always kept.
    keep_others : float in [0.01, 1]
        Probability of keeping any other lattice (1 keeps all: the unfocused dataset, labelled another way).

    Notes
    -----
    Measured (README, margalit2022, session 18 pilot): a 1 M-sample 4×4 training set half of which lies within
    1 rad of the cut raised a width-64 base network by 0.20 / 0.20 points (uniform / biased test sets,
    group-averaged), the same sign on two seeds, against 1 M fresh boundary-biased lattices; sessions 19–20, the
    default profile's ``margin_focus`` ablation row against its ``invariant`` row: +0.17 / +0.32 and +0.05 / +0.14
    (two training seeds), and +0.24 / +0.40 at 3 M samples (the default profile's ``train4c`` since).
    """

    margin: float = Field(1.0, gt=0, le=math.pi)
    keep_others: float = Field(ge=0.01, le=1)


class GenerateConfig(StrictModel):
    """A dataset definition (everything but ``run`` determines the data).

    Attributes
    ----------
    name : str
        Label recorded in the files and shown by the progress bar.
    seed : int >= 0
        Root seed; shard ``k`` uses ``np.random.SeedSequence(seed).spawn(n_shards)[k]``.
    n_samples : int >= 1
    shard_size : int >= 1, default 10000
        Samples per shard (the last shard may be smaller). Part of the definition: another shard size
        gives another (equally valid) dataset.
    sampling : SamplingSpec
        What to sample (:mod:`topoml.data.sampling`).
    focus : MarginFocus, optional
        Keep the lattices next to a jump of the label and thin the others (:class:`MarginFocus`); left out of the
        definition (and of its hash) when absent. Bott labels only.
    label_method : {"bott", "localizer"}, default "bott"
        ``"bott"``: dense Bott index (exact margalit2022 label); ``"localizer"``: the sparse, certified
        spectral-localizer index (:mod:`topoml.invariants.localizer`; large lattices: 64×64, 128×128),
        stored with ``raw_bott = label`` and ``gaps`` = the localizer gap. Left out of the definition
        (and of its hash) when "bott", so existing datasets keep their identity. The KPM marker
        (``topoml chern --method kpm``) is not a label method: it is a stochastic estimate without a
        certificate, and slower than the localizer at every N measured (README, "Large lattices").
    run : RunOptions
        Execution defaults, overridable by :func:`generate_dataset` arguments and the CLI.
    """

    name: str = "dataset"
    seed: int = Field(ge=0)
    n_samples: int = Field(ge=1)
    shard_size: int = Field(10_000, ge=1)
    sampling: SamplingSpec
    focus: MarginFocus | None = None
    label_method: Literal["bott", "localizer"] = "bott"
    run: RunOptions = RunOptions()

    @model_validator(mode="after")
    def _sane_shards(self) -> GenerateConfig:
        if self.n_shards > 99_999:
            raise ValueError(f"{self.n_shards} shards is too many (max 99999); increase shard_size")
        if self.focus is not None and self.label_method != "bott":
            raise ValueError("focus selects lattices by their Bott spectrum: it needs label_method = 'bott'")
        return self

    @property
    def n_shards(self) -> int:
        """``ceil(n_samples / shard_size)``."""
        return math.ceil(self.n_samples / self.shard_size)

    def shard_sizes(self) -> list[int]:
        """Samples in each shard: ``shard_size`` each, the remainder in the last one."""
        k, s = self.n_shards, self.shard_size
        return [s] * (k - 1) + [self.n_samples - s * (k - 1)]

    def definition(self) -> dict:
        """The data-defining part of the config (no ``run``; no ``label_method`` when "bott", no ``focus`` when
        absent), JSON-serializable."""
        exclude = {"run"} | ({"label_method"} if self.label_method == "bott" else set())
        return self.model_dump(mode="json", exclude=exclude | ({"focus"} if self.focus is None else set()))

    def definition_sha256(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`definition` (identifies the dataset)."""
        import hashlib

        return hashlib.sha256(json.dumps(self.definition(), sort_keys=True).encode()).hexdigest()


def packaged_config(name: str) -> Path | None:
    """Path of a config shipped in ``topoml/experiments/configs`` (``"margalit2022_data_quick"``), or None."""
    stem = name[:-5] if name.endswith(".toml") else name
    if not stem or "/" in stem or os.sep in stem:
        return None
    path = Path(__file__).resolve().parent.parent / "experiments" / "configs" / f"{stem}.toml"
    return path if path.is_file() else None


def load_config(path: str | os.PathLike) -> GenerateConfig:
    """Read and validate a generation config from a TOML file.

    Parameters
    ----------
    path : path-like
        A TOML file, or the name of a packaged config (``"margalit2022_data_quick"``).

    Returns
    -------
    GenerateConfig

    Raises
    ------
    ConfigError
        The file is missing or not valid TOML, a key is unknown (the message names it), a value is
        invalid (negative widths, ``low > high`` ranges, ...), or a required key is missing.
    """
    p = Path(path)
    if not p.is_file():
        alt = packaged_config(str(path))
        if alt is None:
            raise ConfigError(f"config file {path} not found (give a TOML file or a packaged config name)")
        p = alt
    return GenerateConfig.from_dict(read_toml(p), source=str(p))


def _as_config(config: GenerateConfig | Mapping | str | os.PathLike) -> GenerateConfig:
    if isinstance(config, GenerateConfig):
        return config
    if isinstance(config, Mapping):
        return GenerateConfig.from_dict(config)
    if isinstance(config, (str, os.PathLike)):
        return load_config(config)
    raise ConfigError(f"config must be a GenerateConfig, a mapping or a TOML path, got {type(config).__name__}")


# ---------------------------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class _ShardTask:
    index: int
    n_shards: int
    n_samples: int
    seed: int
    seed_seq: np.random.SeedSequence
    definition: dict
    definition_sha256: str
    out_dir: str


def _batch_size(lattice_size: int) -> int:
    dim = 2 * lattice_size * lattice_size
    return int(max(1, min(_MAX_BATCH, _BATCH_BYTES // (16 * dim * dim))))


_LABEL_FUNCTIONS = {"bott": "topoml.invariants.bott.bott_index",
                    "localizer": "topoml.invariants.localizer.localizer_chern_number"}


def _label(x: np.ndarray, report: Callable[[int], None] | None, *, method: str = "bott") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bott index of each lattice, in memory-bounded batches (progress reported after each).

    ``method="localizer"``: the localizer index, one lattice at a time (raw = label, gap = localizer gap).
    """
    if method == "localizer":
        from topoml.invariants.localizer import localizer_chern_number

        out = []
        for xi in x:
            r = localizer_chern_number(xi)
            out.append((r.chern, r.gap))
            if report is not None:
                report(1)
        label = np.array([o[0] for o in out], dtype=np.int64).reshape(len(x))
        return label.astype(np.float64), label, np.array([o[1] for o in out], dtype=np.float64).reshape(len(x))
    n = x.shape[0]
    raw = np.empty(n, dtype=np.float64)
    label = np.empty(n, dtype=np.int64)
    gap = np.empty(n, dtype=np.float64)
    step = _batch_size(x.shape[1])
    for a in range(0, n, step):
        b = min(n, a + step)
        res = bott_index(x[a:b], on_gapless="flag")  # datasets label everything; the gap is stored
        raw[a:b], label[a:b], gap[a:b] = res.raw, res.label, res.gap
        if report is not None:
            report(b - a)
    return raw, label, gap


def _draw(spec: SamplingSpec, n: int, seed_seq: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """A shard's inputs as stored (float32) and their averages (float64), from its seed sequence."""
    x, averages = sample_lattices(n, spec, np.random.default_rng(seed_seq), return_averages=True)
    return x.astype(np.float32), averages


def _label_spectra(x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Raw Bott value, label, gap and branch-cut margin of each lattice from its Bott spectrum (memory-bounded
    batches): ``raw = Σ θ / 2π`` as :func:`bott_index` (summed in ascending order), ``gap`` the lowest BdG
    energy, ``margin = π − max |θ|``."""
    n = x.shape[0]
    raw, gap, margin = np.empty(n), np.empty(n), np.empty(n)
    step = _batch_size(x.shape[1])
    for a in range(0, n, step):
        b = min(n, a + step)
        sp = bott_spectrum(x[a:b])
        raw[a:b] = sp.phases.sum(axis=-1) / (2 * np.pi)
        gap[a:b], margin[a:b] = sp.energies[:, 0], sp.margin
    return raw, np.rint(raw).astype(np.int64), gap, margin


def _draw_focused(spec: SamplingSpec, focus: MarginFocus, n: int, seed_seq: np.random.SeedSequence,
                  report: Callable[[int], None] | None = None) -> tuple[np.ndarray, ...]:
    """A focused shard: rounds of lattices from the shard's generator, each followed by one uniform number per
    lattice; a lattice is kept if its margin is below ``focus.margin`` or its number below ``focus.keep_others``,
    until ``n`` are kept (the first ``n`` in drawing order). The first round has ``n`` lattices, each later one
    ``ceil(1.1 × missing / rate so far) + 16`` (at most ``n``): a function of the data alone, so the shard is a
    pure function of its seed. Returns the kept float32 inputs, averages, raw values, labels, gaps and the
    number of lattices drawn. ``report`` receives the number of lattices kept after each round."""
    rng = np.random.default_rng(seed_seq)
    parts: list[tuple[np.ndarray, ...]] = []
    kept = drawn = 0
    size = n
    while kept < n:
        x, averages = sample_lattices(size, spec, rng, return_averages=True)
        u = rng.random(size)
        x32 = x.astype(np.float32)
        raw, label, gap, margin = _label_spectra(x32.astype(np.float64))
        keep = (margin < focus.margin) | (u < focus.keep_others)
        take = np.flatnonzero(keep)[: n - kept]
        parts.append((x32[take], averages[take], raw[take], label[take], gap[take]))
        kept += take.size
        drawn += size
        if report is not None:
            report(int(take.size))
        rate = max(kept / drawn, focus.keep_others / 2)  # keep_others bounds the rate from below
        size = min(n, math.ceil(1.1 * (n - kept) / rate) + 16)
    cols = [np.concatenate(c) for c in zip(*parts)]
    return (*cols, drawn)


def shard_inputs(config: GenerateConfig | Mapping | str | os.PathLike, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The lattices of shard ``index`` of a dataset, exactly as :func:`generate_dataset` stores them, without
    labelling or writing anything (studies that label them their own way, e.g.
    ``benchmarks/rg_accuracy_vs_size.py``).

    Parameters
    ----------
    config : GenerateConfig, mapping or path-like
        The dataset definition (its ``seed``, ``n_samples``, ``shard_size`` and ``sampling`` matter).
    index : int
        Shard number, ``0 <= index < config.n_shards``.

    Returns
    -------
    inputs : ndarray of float32, shape (n, N, N, 3)
        The stored lattices (``n`` = the shard's size), channels ``mu, t_minus, delta``.
    averages : ndarray of float64, shape (n, 3)
        The drawn averages ``(μ̄, t̄₋, Δ̄)`` (before the float32 rounding of the inputs).

    Raises
    ------
    ConfigError
        Invalid config.
    InputError
        ``index`` out of range or not an integer.
    """
    cfg = _as_config(config)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < cfg.n_shards:
        raise InputError(f"shard index must be an integer in [0, {cfg.n_shards}), got {index!r}")
    seed_seq = np.random.SeedSequence(cfg.seed).spawn(cfg.n_shards)[int(index)]
    if cfg.focus is not None:
        x32, averages, *_ = _draw_focused(cfg.sampling, cfg.focus, cfg.shard_sizes()[int(index)], seed_seq)
        return x32, averages
    return _draw(cfg.sampling, cfg.shard_sizes()[int(index)], seed_seq)


def _generate_shard(task: _ShardTask) -> dict:
    """Sample, label and write one shard (the executor's task). Returns its :class:`ShardInfo` as a dict."""
    t0 = time.perf_counter()
    spec = SamplingSpec.model_validate(task.definition["sampling"])
    method = task.definition.get("label_method", "bott")
    extra = {}
    if "focus" in task.definition:
        focus = MarginFocus.model_validate(task.definition["focus"])
        x32, averages, raw, label, gap, drawn = _draw_focused(spec, focus, task.n_samples, task.seed_seq,
                                                               report_progress)
        extra["lattices_drawn"] = drawn
    else:
        x32, averages = _draw(spec, task.n_samples, task.seed_seq)
        kw = {} if method == "bott" else {"method": method}
        raw, label, gap = _label(x32.astype(np.float64), report_progress, **kw)
    path = Path(task.out_dir) / store.shard_filename(task.index, task.n_shards)
    info = store.write_shard(
        path,
        inputs=x32,
        labels=label,
        raw_bott=raw,
        gaps=gap,
        averages=averages,
        seed=task.seed,
        config=task.definition,
        attrs={
            "shard_index": task.index,
            "n_shards": task.n_shards,
            "spawn_key": list(task.seed_seq.spawn_key),
            "config_sha256": task.definition_sha256,
            "label_function": _LABEL_FUNCTIONS[method],
            **extra,
        },
    )
    out = info.to_dict()
    out.update(index=task.index, seconds=time.perf_counter() - t0)
    return out


# ---------------------------------------------------------------------------------------------- summary


class GenerationSummary(dict):
    """The result of :func:`generate_dataset`: a plain ``dict`` that prints as a readable report.

    Keys: ``name``, ``out_dir``, ``n_samples``, ``lattice_size``, ``n_shards``, ``shards_computed``,
    ``shards_reused``, ``shards_replaced`` (names of corrupt or partial shards recomputed),
    ``samples_computed``, ``wall_seconds``, ``work_seconds`` (the shard computation alone),
    ``samples_per_second`` (computed samples per wall second), ``engine``, ``workers``,
    ``label_counts`` (``{label: count}``), ``gap`` (min, 1 %, 5 %, median, mean, max), ``raw_bott``
    (largest ``|raw − label|``, count above 0.1),
    ``content_sha256``.
    """

    def __str__(self) -> str:
        return format_summary(self)


def _label_stats(labels: np.ndarray, raw: np.ndarray, gaps: np.ndarray) -> dict:
    values, counts = np.unique(labels, return_counts=True)
    dev = np.abs(raw - labels)
    if gaps.size:
        q = np.quantile(gaps, [0.0, 0.01, 0.05, 0.5, 1.0])
        mean = float(gaps.mean())
    else:
        q, mean = np.full(5, np.nan), float("nan")
    return {
        "label_counts": {int(v): int(c) for v, c in zip(values, counts)},
        "gap": {"min": float(q[0]), "p01": float(q[1]), "p05": float(q[2]), "median": float(q[3]),
                "mean": mean, "max": float(q[4])},
        "raw_bott": {"max_abs_deviation": float(dev.max()) if dev.size else 0.0,
                     "n_deviation_above_0.1": int((dev > 0.1).sum())},
    }


def summarize_dataset(path: str | os.PathLike) -> dict:
    """Label histogram and gap/raw statistics of a stored dataset (reads labels, raw values, gaps).

    Parameters
    ----------
    path : path-like
        Dataset folder (see :func:`topoml.data.store.open_dataset`).

    Returns
    -------
    dict
        ``n_samples``, ``lattice_size``, ``label_counts`` (``{label: count}``, sorted), ``gap``
        statistics (``min``, ``p01``, ``p05``, ``median``, ``mean``, ``max``; units of ``t₊``),
        ``raw_bott`` (``max_abs_deviation`` = max ``|raw − label|``, ``n_deviation_above_0.1``),
        ``content_sha256``.

    Raises
    ------
    DatasetError
        The dataset cannot be opened or read.
    """
    with store.open_dataset(path) as ds:
        stats = _label_stats(np.asarray(ds.labels), np.asarray(ds.raw_bott), np.asarray(ds.gaps))
        return {"n_samples": len(ds), "lattice_size": ds.lattice_size, **stats,
                "content_sha256": ds.content_sha256}


def format_summary(summary: Mapping) -> str:
    """Human-readable multi-line report of a :class:`GenerationSummary` (label histogram, gaps, speed)."""
    n = summary.get("n_samples", 0)
    size = summary.get("lattice_size", "?")
    lines = [
        f"dataset {summary.get('name', '')!s}: {n} samples of {size}x{size} lattices in "
        f"{summary.get('n_shards', '?')} shards -> {summary.get('out_dir', '')}",
        f"  computed {summary.get('shards_computed', 0)} shards ({summary.get('samples_computed', 0)} samples), "
        f"reused {summary.get('shards_reused', 0)}; {summary.get('wall_seconds', 0.0):.1f} s, "
        f"{summary.get('samples_per_second', 0.0):,.0f} samples/s "
        f"({summary.get('engine', '?')}, {summary.get('workers', '?')} workers)",
    ]
    if summary.get("shards_replaced"):
        lines.append(f"  regenerated corrupt or incomplete shards: {', '.join(summary['shards_replaced'])}")
    lines.append("  label   count   fraction")
    counts = summary.get("label_counts", {})
    for label, c in sorted(counts.items(), key=lambda kv: int(kv[0])):
        frac = c / n if n else 0.0
        lines.append(f"  {int(label):+5d} {c:8d}   {frac:7.2%}  {'#' * int(round(40 * frac))}")
    g = summary.get("gap", {})
    if g:
        lines.append(
            "  gap: min {min:.3g}, 1% {p01:.3g}, 5% {p05:.3g}, median {median:.3g}, mean {mean:.3g}, "
            "max {max:.3g} (units of t+)".format(**g)
        )
    r = summary.get("raw_bott", {})
    if r:
        lines.append(
            f"  raw Bott: max |raw - label| = {r['max_abs_deviation']:.3g}, "
            f"{r['n_deviation_above_0.1']} samples further than 0.1 from an integer"
        )
    if summary.get("content_sha256"):
        lines.append(f"  content sha256 {summary['content_sha256'][:16]}...")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- driver


def _prepare_out_dir(out: Path) -> None:
    """Create ``out`` and prove it writable (a real file write), before any work."""
    try:
        writable_folder(out)
    except InputError as err:
        raise DatasetError(str(err)) from None


def _existing_manifest(out: Path) -> dict | None:
    """The generation manifest already in ``out`` (None if there is none)."""
    path = out / store.MANIFEST_NAME
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
        str(manifest["config_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        raise DatasetError(
            f"{path} is corrupt or not a topoml generation manifest; delete it or choose another --out"
        ) from None
    return manifest


def _plan(cfg: GenerateConfig, out: Path, sha: str) -> list[_ShardTask]:
    """One task per shard; shard ``k`` is seeded by ``SeedSequence(seed).spawn(n_shards)[k]``."""
    seeds = np.random.SeedSequence(cfg.seed).spawn(cfg.n_shards)
    definition = cfg.definition()
    return [
        _ShardTask(index=k, n_shards=cfg.n_shards, n_samples=n, seed=cfg.seed, seed_seq=seeds[k],
                   definition=definition, definition_sha256=sha, out_dir=str(out))
        for k, n in enumerate(cfg.shard_sizes())
    ]


def _collect(cfg: GenerateConfig, out: Path, tasks: list[_ShardTask]) -> tuple[list[dict], dict]:
    """Check every finished shard; return the manifest's shard list and the label/gap statistics."""
    shards, cols = [], {"labels": [], "raw_bott": [], "gaps": []}
    for t in tasks:
        path = out / store.shard_filename(t.index, t.n_shards)
        info, _ = store.read_shard_info(path, lattice_size=cfg.sampling.lattice_size)
        shards.append(info.to_dict())
        try:
            with h5py.File(path, "r") as f:
                for name, parts in cols.items():
                    parts.append(f[name][()])
        except OSError as err:
            raise DatasetError(f"shard {path} is corrupt: cannot read its labels ({err})") from None
    stats = _label_stats(*(np.concatenate(cols[k]) for k in ("labels", "raw_bott", "gaps")))
    return shards, stats


def _shard_ok(path: Path, task: _ShardTask, recorded: Mapping[str, str] | None = None) -> bool:
    """Is ``path`` a complete, intact shard of this dataset? (A shard of another dataset is an error.)

    Intact: its arrays match the checksum stored in the shard and the one in the manifest (``recorded``:
    file name -> digest), so a shard whose data were overwritten in place is recomputed, not reused.
    """
    if not path.exists():
        return False
    try:
        info, attrs = store.read_shard_info(path)
    except DatasetError:
        return False
    if attrs.get("config_sha256") != task.definition_sha256:
        raise DatasetError(
            f"{path} belongs to another dataset (different config); delete it or choose another --out"
        )
    if info.n_samples != task.n_samples or attrs.get("shard_index") != task.index:
        return False
    want = (recorded or {}).get(path.name)
    if want is not None and want != info.content_sha256:
        return False
    try:
        store.read_shard(path)  # recomputes the digest of the stored arrays
    except DatasetError:
        return False
    return True


def _manifest(cfg: GenerateConfig, environment: dict, *, complete: bool, shards_done: int,
              shards: list[dict] | None = None, summary: Mapping | None = None) -> dict:
    m = {
        "format": store.FORMAT,
        "schema_version": store.SCHEMA_VERSION,
        "complete": complete,
        "name": cfg.name,
        "n_samples": cfg.n_samples,
        "lattice_size": cfg.sampling.lattice_size,
        "seed": cfg.seed,
        "n_shards": cfg.n_shards,
        "shards_done": shards_done,
        "config": cfg.definition(),
        "config_sha256": cfg.definition_sha256(),
        "label_function": _LABEL_FUNCTIONS[cfg.label_method],
        "environment": environment,
    }
    if shards is not None:
        m["shards"] = shards
        m["content_sha256"] = store.dataset_digest([s["content_sha256"] for s in shards])
    if summary is not None:
        m["summary"] = {k: summary[k] for k in ("label_counts", "gap", "raw_bott") if k in summary}
    return m


def _default_workers(n_shards: int) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, n_shards))


def generate_dataset(
    config: GenerateConfig | Mapping | str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    workers: int | None = None,
    engine: Literal["process", "dask", "serial"] | None = None,
    scheduler_address: str | None = None,
    progress: bool | None = None,
) -> GenerationSummary:
    """Generate (or finish) a sharded, Bott-labelled HDF5 dataset.

    Parameters
    ----------
    config : GenerateConfig, mapping or path-like
        The dataset definition (a TOML path or packaged config name is read with :func:`load_config`).
    out_dir : path-like, optional
        Output folder; default ``config.run.out_dir``. Created if needed. If it already holds this
        dataset, finished shards are kept and only the missing ones are computed.
    workers : int, optional
        Worker processes (default ``config.run.workers``, else the available CPUs, at most the number of
        shards; ignored by the serial engine).
    engine : {"process", "dask", "serial"}, optional
        Default ``config.run.engine``: a spawned process pool with one BLAS thread per worker, Dask
        distributed, or the calling process.
    scheduler_address : str, optional
        A running Dask scheduler (``engine="dask"``); its workers must see ``out_dir``.
    progress : bool, optional
        tqdm progress bar (samples/s) on stderr; default ``config.run.progress``.

    Returns
    -------
    GenerationSummary
        A dict (see :class:`GenerationSummary`); ``print(summary)`` gives a readable report. The same
        statistics are stored in the manifest.

    Raises
    ------
    ConfigError
        Invalid config or options (unknown engine, ``workers < 1``, no output folder, unreachable
        scheduler).
    DatasetError
        The output folder is not writable (raised before any work), holds a different dataset, or
        another run is writing to it.
    TopomlError
        Whatever the label function raises for a sample (finished shards are kept; rerun to resume).
    """
    cfg = _as_config(config)
    run = cfg.run
    out_dir = out_dir if out_dir is not None else run.out_dir
    if out_dir is None:
        raise ConfigError("no output folder: pass out_dir (--out) or set run.out_dir in the config")
    engine = engine or run.engine
    workers = workers if workers is not None else run.workers
    executor = Executor(_default_workers(cfg.n_shards) if workers is None else workers, engine,
                        scheduler_address=scheduler_address or run.scheduler_address)  # checks the options
    workers = executor.workers
    progress = run.progress if progress is None else bool(progress)

    out = Path(out_dir)
    _prepare_out_dir(out)
    t_start = time.perf_counter()
    busy = DatasetError(f"another generate run is writing to {out}; wait for it or use another --out")
    with FolderLock(out, _LOCK_NAME, busy), executor:
        sha = cfg.definition_sha256()
        existing = _existing_manifest(out)
        if existing is not None and existing["config_sha256"] != sha:
            raise DatasetError(
                f"{out} already holds a different dataset (another config); choose another --out or delete it"
            )
        store.remove_stale_temporaries(out)
        tasks = _plan(cfg, out, sha)
        recorded = {e.get("file"): e.get("content_sha256") for e in (existing or {}).get("shards", [])
                    if isinstance(e, dict)}
        todo = [t for t in tasks if not _shard_ok(out / store.shard_filename(t.index, t.n_shards), t, recorded)]
        replaced = [store.shard_filename(t.index, t.n_shards) for t in todo
                    if (out / store.shard_filename(t.index, t.n_shards)).exists()]
        reused = len(tasks) - len(todo)
        environment = environment_info(cfg.seed)
        if todo:
            for t in todo:  # corrupt or truncated leftovers are recomputed
                (out / store.shard_filename(t.index, t.n_shards)).unlink(missing_ok=True)
            store.write_manifest(out, _manifest(cfg, environment, complete=False, shards_done=reused))

        total_todo = sum(t.n_samples for t in todo)
        t_work = time.perf_counter()
        executor.map(_generate_shard, todo, weight=lambda t: t.n_samples, progress=progress, desc=cfg.name,
                     unit="samples", unit_scale=True, initial=cfg.n_samples - total_todo)
        work_seconds = time.perf_counter() - t_work

        shards, stats = _collect(cfg, out, tasks)
        manifest = _manifest(cfg, environment, complete=True, shards_done=len(tasks), shards=shards,
                             summary=stats)
        unchanged = (not todo and existing is not None and existing.get("complete")
                     and existing.get("content_sha256") == manifest["content_sha256"])
        if not unchanged:  # a finished dataset's manifest is left as it was
            store.write_manifest(out, manifest)
        stats["content_sha256"] = manifest["content_sha256"]
    wall = time.perf_counter() - t_start
    summary = GenerationSummary(
        name=cfg.name,
        out_dir=str(out),
        n_samples=cfg.n_samples,
        lattice_size=cfg.sampling.lattice_size,
        n_shards=cfg.n_shards,
        shards_computed=len(todo),
        shards_reused=reused,
        shards_replaced=replaced,
        samples_computed=total_todo,
        wall_seconds=wall,
        work_seconds=work_seconds,
        samples_per_second=total_todo / wall if wall > 0 else 0.0,
        engine=engine,
        workers={"serial": 1, "dask": workers}.get(engine, min(workers, max(1, len(todo)))),
        **{k: stats[k] for k in ("label_counts", "gap", "raw_bott", "content_sha256")},
    )
    return summary

