"""``topoml train | evaluate | predict``: Chern-number networks (margalit2022) on any dataset.

A thin layer over the library: :mod:`topoml.evaluate.predict` reads lattices and predicts,
:mod:`topoml.evaluate.metrics` scores, and ``train`` runs the stage functions of
:mod:`topoml.experiments.margalit2022` with the settings of a profile of ``reproduce margalit2022``.

* ``topoml train base DATA --test TEST --out DIR [--profile P] [--set KEY=VALUE ...]`` trains the
  profile's base network (``base_net``) with its ``base`` stage on 4×4 lattices;
  ``topoml train rg DATA --base MODEL --test TEST... --out DIR`` trains the profile's RG network
  (``rg_net``) inside ``base ∘ RG^k`` (base frozen) with its ``rg`` stage after the ``rg_init``
  decimation pre-training (``--init decimation``), or with its ``rg_scratch`` stage from a random
  initialization. Seeds are derived from the profile's ``seed`` as in ``reproduce``, so the same data
  give the same network. A checkpoint is written after every epoch; rerunning the same command
  resumes after the last finished epoch. ``DIR/model.safetensors`` is the selected network (best test
  accuracy of the largest ``--test`` set), loadable by ``evaluate`` and ``predict``.
* ``topoml evaluate DATA [--weights MODEL]`` — accuracy on a dataset folder of ``topoml generate``.
* ``topoml predict LATTICE`` — Chern numbers of lattices in an ``.npy`` or ``.h5`` file, shape
  ``(N, N, 3)`` or ``(batch, N, N, 3)``, ``N = 4·2^k``, from the packaged weights (or ``--weights``);
  ``--flag-below C`` marks the lattices whose confidence is below ``C`` as uncertain.

Every failure is a :class:`~topoml.errors.TopomlError` (one-line message in the CLI).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from topoml.cli.types import confidence_cut, nonnegative_int, positive_int
from topoml.errors import CheckpointError, ConfigError, DatasetError, ShapeError

__all__ = ["add_commands"]


def _packaged_accuracy_text() -> str:
    """One sentence with the packaged weights' measured accuracy, read from their metadata (header only)."""
    from topoml.evaluate.predict import measured_accuracy_warning, packaged_weights
    from topoml.train.checkpoint import read_model_metadata

    try:
        meta = read_model_metadata(packaged_weights())
        acc = meta["accuracy"]
        sizes = sorted(acc, key=int)
        held = meta.get("held_out", {})
        where = (" on uniform Bott-labelled held-out sets (used for nothing else)" if held and all(held.get(k) for k in sizes)
                 else " on uniform Bott-labelled test sets"
                 + (f" (the {meta['stage']} stage selected its epoch on the 16x16 set)" if "stage" in meta else ""))
        zero = meta.get("always_zero", {})

        def at(k: str) -> str:  # a size where predict warns (answering C = 0 does as well) says so
            low = measured_accuracy_warning(meta, int(k)) is not None
            return f"{100 * acc[k]:.2f} % at {k}x{k}" + (f" (below C = 0 for every lattice: {100 * zero[k]:.1f} %)"
                                                        if low else "")

        return ("Packaged weights (" + str(meta.get("source", "?")) + f", profile {meta.get('profile', '?')}): accuracy "
                + ", ".join(at(k) for k in sizes) + where
                + ("; predictions averaged over the point symmetries" if meta.get("symmetrize") else "") + ".")
    except (CheckpointError, KeyError, TypeError, ValueError):  # no accuracy recorded: say nothing
        return ""


def _cmd_predict(args: argparse.Namespace) -> int:
    import torch

    from topoml.evaluate.predict import (check_net_size, load_chern_model, load_lattices,
                                         measured_accuracy_warning, predict_chern)

    torch.set_num_threads(args.threads)
    net, meta = load_chern_model(args.weights)
    x = load_lattices(args.lattice, args.key)
    check_net_size(meta, x.shape[1], args.lattice)
    warning = measured_accuracy_warning(meta, x.shape[1])
    if warning:
        print(f"topoml: warning: {warning}", file=sys.stderr)
    label, raw, conf = predict_chern(net, x)
    cut = args.flag_below
    flagged = conf < cut if cut is not None else np.zeros(len(conf), bool)
    if cut is not None:
        print(f"topoml: {int(flagged.sum())} of {len(conf)} lattices below confidence {cut:g}: flagged uncertain",
              file=sys.stderr)
    if args.json:
        print(json.dumps({"lattice_size": int(x.shape[1]), "weights": str(args.weights or "packaged"),
                          **({"flag_below": cut} if cut is not None else {}),
                          "predictions": [{"index": i, "chern_number": int(c), "confidence": float(q),
                                           **({"uncertain": bool(f)} if cut is not None else {}),
                                           **({"output": float(r)} if raw.ndim == 1 else
                                              {"probabilities": [float(v) for v in r]})}
                                          for i, (c, r, q, f) in enumerate(zip(label, raw, conf, flagged))]},
                         indent=1))
    else:
        for i, (c, q, f) in enumerate(zip(label, conf, flagged)):
            print(f"{i}\t{c:+d}\t{q:.3f}" + ("" if cut is None else "\tuncertain" if f else "\tok"))
    return 0


def _dataset_xy(path: str, digest: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and labels of a dataset folder (checksums verified); its content digest goes into ``digest[path]``."""
    from topoml.data.store import open_dataset

    p = Path(path)
    if not p.exists():
        raise DatasetError(f"dataset {p} not found")
    with open_dataset(p) as ds:
        if digest is not None:
            digest[str(path)] = ds.content_sha256
        return np.asarray(ds.inputs[:], dtype=np.float32), np.asarray(ds.labels[:])


def _check_same_data(out: Path, data: dict) -> None:
    """Record which datasets a training folder was trained on; refuse to resume it on other data."""
    from topoml.runs.rundir import atomic_write_text

    f = out / "datasets.json"
    if f.exists():
        try:
            old = json.loads(f.read_text())
        except (OSError, ValueError):
            raise CheckpointError(f"{f} is unreadable; delete {out} or choose another --out") from None
        if old != data:
            raise CheckpointError(f"{out} holds a training run on other datasets ({f}); "
                                  "choose another --out or delete it")
    elif (out / "checkpoints" / "history.json").exists():
        raise CheckpointError(f"{out} holds a training run whose datasets are not recorded; "
                              "choose another --out or delete it")
    else:
        atomic_write_text(f, json.dumps(data, indent=1, sort_keys=True) + "\n")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from topoml.evaluate.metrics import accuracy, per_label_accuracy
    from topoml.evaluate.predict import check_net_size, load_chern_model, predict_chern

    torch.set_num_threads(args.threads)
    net, meta = load_chern_model(args.weights)
    x, y = _dataset_xy(args.data)
    check_net_size(meta, x.shape[1], args.data)
    label, _, conf = predict_chern(net, x)
    per = per_label_accuracy(label, y)
    acc = accuracy(label, y)
    res = {"dataset": str(args.data), "n": int(len(y)), "lattice_size": int(x.shape[1]), "accuracy": acc,
           "accuracy_stderr": math.sqrt(max(acc * (1 - acc), 1 / len(y)) / len(y)),
           "per_label_accuracy": per, "mean_confidence": float(conf.mean())}
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        print(f"{res['dataset']}: {res['n']} lattices {res['lattice_size']}x{res['lattice_size']}, "
              f"accuracy {100 * acc:.2f} % ± {100 * res['accuracy_stderr']:.2f}")
        print("per label: " + ", ".join(f"{c:+d}: {100 * a:.1f} %" for c, a in per.items()))
    return 0


def _train_config(args: argparse.Namespace, stage: str):
    """The margalit2022 profile with the command's overrides (``--set``, ``--seed``, ``--epochs`` of ``stage``)."""
    from topoml.experiments import margalit2022
    from topoml.runs.config import parse_overrides

    overrides = parse_overrides(args.set)
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.epochs is not None:
        overrides[f"{stage}.epochs"] = args.epochs
    return margalit2022.load_config(args.profile, overrides, args.config)


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from topoml.evaluate.predict import load_chern_model
    from topoml.experiments import margalit2022
    from topoml.nets.rg import rg_steps
    from topoml.runs.rundir import atomic_write_bytes, writable_folder
    from topoml.train.checkpoint import model_bytes

    if args.net == "rg" and not args.base:
        raise ConfigError("train rg needs --base MODEL (a base network or a compound model)")
    stage = "base" if args.net == "base" else ("rg" if args.init == "decimation" else "rg_scratch")
    cfg = _train_config(args, stage)
    torch.set_num_threads(args.threads or cfg.threads)
    out = writable_folder(args.out)
    digests: dict = {}
    x, y = _dataset_xy(args.data, digests)
    size = x.shape[1]
    data = {f"train{size}": (x, y)}
    for t in args.test or []:
        xt, yt = _dataset_xy(t, digests)
        if args.net == "base" and xt.shape[1] != 4:
            raise ShapeError(f"a base network is selected on 4x4 test lattices; {t} holds {xt.shape[1]}x{xt.shape[1]}")
        rg_steps(xt.shape[1])
        data[f"test{xt.shape[1]}"] = (xt, yt)
    sizes = sorted(int(k[4:]) for k in data if k.startswith("test"))
    _check_same_data(out, {"train": digests[str(args.data)],
                           "test": sorted(digests[str(t)] for t in args.test or [])})
    progress = sys.stderr.isatty()
    if args.net == "base":
        if size != 4:
            raise ShapeError(f"the base network trains on 4x4 lattices; {args.data} holds {size}x{size}")
        net, (name, kwargs), result = margalit2022.train_base(cfg, data, out / "checkpoints", progress)
    else:
        base, bmeta = load_chern_model(args.base)
        base = getattr(base, "base", base)
        if size < 8:
            raise ShapeError(f"the RG network trains on lattices of size >= 8; {args.data} holds {size}x{size}")
        net, rg_kwargs, result = margalit2022.train_rg(
            cfg, base, data, f"train{size}", out / "checkpoints", out / "decimation_init",
            random_init=args.init == "random", select=f"acc{sizes[-1]}" if sizes else None, progress=progress)
        name = "margalit2022.chern"
        bname, bkw = bmeta["net"]["name"], bmeta["net"]["kwargs"]
        if bname == "margalit2022.chern":
            kwargs = {"base": bkw["base"], "rg": rg_kwargs, "base_kind": bkw.get("base_kind", "paper")}
        else:
            kwargs = {"base": bkw, "rg": rg_kwargs,
                      "base_kind": "invariant" if bname == "margalit2022.base_invariant" else "paper"}
    best = result["best_epoch"]
    metrics = result["history"][best]["metrics"]
    atomic_write_bytes(out / "model.safetensors", model_bytes(net, name, kwargs, {
        "accuracy": metrics, "best_epoch": best, "train_data": str(args.data), "train_samples": int(len(y)),
        "profile": cfg.profile, "stage": stage}))
    print(f"model: {out / 'model.safetensors'} (epoch {best}{', ' if metrics else ''}"
          + ", ".join(f"{k} {100 * v:.2f} %" for k, v in metrics.items()) + ")")
    return 0


def add_commands(sub) -> None:
    """Add ``train``, ``evaluate`` and ``predict`` to the CLI's sub-parsers."""
    t = sub.add_parser("train", help="train a base or RG network (margalit2022) on a generated dataset; resumable",
                       description="Train with the networks and stage settings of a profile of `topoml reproduce "
                       "margalit2022` (configs/margalit2022.toml); change them with --set, e.g. "
                       "--set base_net.width=16 --set base.lr=0.001.")
    t.add_argument("net", choices=["base", "rg"], help="base: 4x4 base network; rg: RG network inside base∘RG^k")
    t.add_argument("data", help="training dataset folder (topoml generate)")
    t.add_argument("--test", action="append", help="test dataset folder (repeatable); the largest selects the model")
    t.add_argument("--out", required=True, help="output folder (rerun to resume)")
    t.add_argument("--base", help="base network or compound model (.safetensors), for `train rg`")
    t.add_argument("--init", choices=["decimation", "random"], default="decimation",
                   help="RG initialization: the profile's rg_init pre-training then its rg stage, or its rg_scratch stage")
    t.add_argument("--profile", default="default", help="margalit2022 profile (default: %(default)s)")
    t.add_argument("--config", help="TOML file with profiles, instead of the built-in one")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a profile key (repeatable)")
    t.add_argument("--epochs", type=positive_int, help="epochs of the stage (default: the profile's)")
    t.add_argument("--seed", type=nonnegative_int, help="base seed (default: the profile's)")
    t.add_argument("--threads", type=positive_int, help="torch threads (default: the profile's)")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", help="accuracy of a Chern-number network on a generated dataset")
    e.add_argument("data", help="dataset folder (topoml generate)")
    e.add_argument("--weights", help="model (.safetensors); default: the packaged pretrained one")
    e.add_argument("--json", action="store_true")
    e.add_argument("--threads", type=positive_int, default=2)
    e.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="Chern numbers of lattices (N = 4·2^k) in an .npy/.h5 file",
                       description="Chern number and confidence (1 = sure) of every lattice in the file. "
                       + _packaged_accuracy_text())
    p.add_argument("lattice", help=".npy or .h5 file, shape (N, N, 3) or (batch, N, N, 3): mu, t_minus, delta")
    p.add_argument("--weights", help="model (.safetensors); default: the packaged pretrained one")
    p.add_argument("--key", help="dataset name inside an .h5 file (default: inputs, or the only one)")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument("--flag-below", type=confidence_cut, metavar="C", default=None,
                   help="mark lattices with a confidence below C 'uncertain' (a fourth column; JSON: uncertain) "
                   "and count them on stderr; the README gives the accuracy kept and flagged at C = 0.7 and 0.9")
    p.add_argument("--threads", type=positive_int, default=1)
    p.set_defaults(func=_cmd_predict)
