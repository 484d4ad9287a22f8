"""``topoml train | evaluate | predict``: Chern-number networks (margalit2022) on any dataset.

* ``topoml train base DATA --test TEST --out DIR`` trains a base network on 4×4 lattices;
  ``topoml train rg DATA --base MODEL --test TEST... --out DIR`` trains an RG network inside
  ``base ∘ RG^k`` (base frozen) from the decimation initialization (``--init decimation``, pre-trained
  here) or at random. A checkpoint is written after every epoch; rerunning the same command resumes
  after the last finished epoch. ``DIR/model.safetensors`` is the selected network (best test accuracy
  of the largest ``--test`` set), loadable by ``evaluate`` and ``predict``.
* ``topoml evaluate DATA [--weights MODEL]`` — accuracy on a dataset folder of ``topoml generate``.
* ``topoml predict LATTICE`` — Chern numbers of lattices in an ``.npy`` or ``.h5`` file, shape
  ``(N, N, 3)`` or ``(batch, N, N, 3)``, ``N = 4·2^k``, from the packaged weights (or ``--weights``).

Every failure is a :class:`~topoml.errors.TopomlError` (one-line message in the CLI).
"""

from __future__ import annotations

import argparse
import json
import math
from importlib import resources
from pathlib import Path

import numpy as np

from topoml.cli_types import nonnegative_int, positive_float, positive_int
from topoml.errors import CheckpointError, ConfigError, DatasetError, InputError, ShapeError

__all__ = ["add_commands", "check_lattices", "check_net_size", "load_lattices", "packaged_weights", "predict_chern"]

PACKAGED_MODEL = "margalit2022_chern.safetensors"


def packaged_weights() -> Path:
    """Path of the pretrained ``base ∘ RG`` weights shipped inside the package."""
    return Path(str(resources.files("topoml.weights").joinpath(PACKAGED_MODEL)))


def check_lattices(a, where: str = "lattices") -> np.ndarray:
    """Validate lattices for a Chern-number network and return them as float32 ``(batch, N, N, 3)``.

    Parameters
    ----------
    a : array_like of real numbers, shape (N, N, 3) or (batch, N, N, 3)
        Per-site ``(mu, t_minus, delta)``; ``N = 4·2^k``.
    where : str
        Names the input in error messages (a file name).

    Raises
    ------
    InputError
        Not a real numeric array (complex, strings, objects), or NaN/inf values, also after the cast
        to float32 (values beyond ±3.4e38).
    ShapeError
        Not ``(N, N, 3)`` / ``(batch, N, N, 3)``, an empty batch, or ``N`` not ``4·2^k``.
    """
    from topoml.nets.rg import rg_steps

    a = np.asarray(a)
    if a.dtype.kind not in "fiu":
        raise InputError(f"{where}: need a real numeric array, got dtype {a.dtype}")
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3 or a.shape[1] != a.shape[2] or len(a) == 0:
        raise ShapeError(f"{where}: need shape (N, N, 3) or (batch, N, N, 3) with batch >= 1, got {a.shape}")
    rg_steps(a.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is reported just below
        a32 = a.astype(np.float32)
    if not np.all(np.isfinite(a32)):
        raise InputError(f"{where}: lattice parameters contain NaN or inf (or values beyond float32 range)")
    return a32


def load_lattices(path: str | Path, key: str | None = None, *, rg_size: bool = True) -> np.ndarray:
    """Read lattices from ``.npy`` or ``.h5``/``.hdf5`` (dataset ``key``, default ``inputs`` or the only one).

    ``rg_size=False`` accepts any ``N >= 2`` and keeps float64 (exact methods, no torch import); the
    networks need ``N = 4·2^k`` and get float32.

    Returns
    -------
    ndarray of float32 (float64 with ``rg_size=False``), shape (batch, N, N, 3)

    Raises
    ------
    InputError
        Missing, empty or unreadable file, not a ``.npy`` file, unknown extension, missing key,
        NaN or inf values (see :func:`check_lattices`).
    ShapeError
        Not ``(N, N, 3)`` / ``(batch, N, N, 3)``, or ``N`` not ``4·2^k``.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"lattice file {p} not found")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            with open(p, "rb") as fh:
                magic = fh.read(6)
            if magic != b"\x93NUMPY":
                what = "empty" if not magic else "not a NumPy .npy file (no .npy header)"
                raise InputError(f"{p} is {what}; save lattices with numpy.save")
            a = np.load(p, allow_pickle=False)
        elif suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(p, "r") as f:
                names = [k for k in f if isinstance(f[k], h5py.Dataset)]
                listing = ", ".join(names) or "none"
                if key is not None:
                    if key not in names:
                        raise InputError(f"{p} has no dataset '{key}' (datasets: {listing})")
                    name = key
                elif "inputs" in names:
                    name = "inputs"
                elif len(names) == 1:
                    name = names[0]
                else:
                    raise InputError(f"{p} holds several datasets and none is called 'inputs'; "
                                     f"choose one with --key (datasets: {listing})")
                a = f[name][()]
        else:
            raise InputError(f"{p}: unknown file type '{suffix}' (use .npy or .h5)")
    except InputError:
        raise
    except (OSError, ValueError, EOFError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"cannot read {p}: {msg.replace(str(p) + ': ', '')}") from None
    if rg_size:
        return check_lattices(a, str(p))
    from topoml.hamiltonians.pip import check_lattice

    a = np.asarray(a)
    if a.ndim == 3:
        a = a[None]
    if a.ndim == 4 and len(a) == 0:
        raise ShapeError(f"{p}: the file holds no lattices")
    return check_lattice(a, batch=True, name=str(p))  # exact methods: any N >= 2, float64


def predict_chern(net, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chern numbers of lattices ``x`` (batch, N, N, 3).

    Returns ``(labels int64 (n,), raw outputs (n,) or class probabilities (n, 5), confidence (n,))``, with
    the confidence of :func:`topoml.nets.rg.chern_prediction` (1 = sure; regression: ``1 − 2·distance to
    the nearest integer``, classes: the winning softmax probability).

    Raises
    ------
    InputError, ShapeError
        Invalid lattices (see :func:`check_lattices`).
    CheckpointError
        The network outputs NaN or inf (corrupt weights).
    """
    import torch

    from topoml.nets.rg import chern_prediction
    from topoml.train.trainer import predict_batches

    x = check_lattices(x)
    raw = predict_batches(net, x, batch_size=256)
    if not np.all(np.isfinite(raw)):
        raise CheckpointError("the network outputs NaN or inf on these lattices: its weights are corrupt "
                              "(or the inputs far outside the training range)")
    label, conf = chern_prediction(torch.from_numpy(raw))
    if raw.ndim == 2:
        raw = torch.softmax(torch.from_numpy(raw), dim=1).numpy()
    return label.numpy(), raw, conf.double().numpy()


def check_net_size(meta: dict, size: int, what: str) -> None:
    """Refuse lattices of size ``size`` that the network described by ``meta`` cannot label.

    A base network (``margalit2022.base``) labels 4×4 lattices only; ``base ∘ RG^k`` any ``4·2^k``.

    Raises
    ------
    ShapeError
        The network cannot take ``size × size`` lattices.
    """
    from topoml.nets.rg import rg_steps

    rg_steps(size)
    if meta.get("net", {}).get("name") in ("margalit2022.base", "margalit2022.base_invariant") and size != 4:
        raise ShapeError(f"a base network labels 4x4 lattices only; {what} holds {size}x{size} "
                         "(use a base∘RG model, e.g. the packaged one)")


def _packaged_accuracy_text() -> str:
    """One sentence with the packaged weights' measured accuracy, read from their metadata (header only)."""
    from topoml.train.checkpoint import read_model_metadata

    try:
        meta = read_model_metadata(packaged_weights())
        acc = meta["accuracy"]
        sizes = sorted(acc, key=int)
        return ("Packaged weights (" + str(meta.get("source", "?")) + f", profile {meta.get('profile', '?')}): accuracy "
                + ", ".join(f"{100 * acc[k]:.1f} % at {k}x{k}" for k in sizes)
                + " on held-out uniform Bott-labelled test sets.")
    except (CheckpointError, KeyError, TypeError, ValueError):  # no accuracy recorded: say nothing
        return ""


def _load_model(path: str | None):
    from topoml.train.checkpoint import load_model

    p = Path(path) if path else packaged_weights()
    if path and not p.is_file():
        raise CheckpointError(f"weights file {p} not found")
    return load_model(p)


def _cmd_predict(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(args.threads)
    net, meta = _load_model(args.weights)
    x = load_lattices(args.lattice, args.key)
    check_net_size(meta, x.shape[1], args.lattice)
    label, raw, conf = predict_chern(net, x)
    if args.json:
        print(json.dumps({"lattice_size": int(x.shape[1]), "weights": str(args.weights or "packaged"),
                          "predictions": [{"index": i, "chern_number": int(c), "confidence": float(q),
                                           **({"output": float(r)} if raw.ndim == 1 else
                                              {"probabilities": [float(v) for v in r]})}
                                          for i, (c, r, q) in enumerate(zip(label, raw, conf))]}, indent=1))
    else:
        for i, (c, q) in enumerate(zip(label, conf)):
            print(f"{i}\t{c:+d}\t{q:.3f}")
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
    from topoml.rundir import atomic_write_text

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

    torch.set_num_threads(args.threads)
    net, meta = _load_model(args.weights)
    x, y = _dataset_xy(args.data)
    check_net_size(meta, x.shape[1], args.data)
    label, raw, conf = predict_chern(net, x)
    per = {int(c): float(np.mean(label[y == c] == c)) for c in np.unique(y)}
    acc = float(np.mean(label == y))
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


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from topoml.nets.rg import BaseNet, CompoundNet, RGNet, rg_steps
    from topoml.rundir import atomic_write_bytes
    from topoml.train.checkpoint import model_bytes
    from topoml.train.trainer import (TrainConfig, Trainer, chern_class_loss, chern_loss, decimation_batches,
                                      predict_batches, round_accuracy, tensor_batches)

    torch.set_num_threads(args.threads)
    from topoml.rundir import writable_folder

    out = writable_folder(args.out)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                      schedule=args.schedule, seed=args.seed)
    digests: dict = {}
    x, y = _dataset_xy(args.data, digests)
    tests = {}
    for t in args.test or []:
        xt, yt = _dataset_xy(t, digests)
        if args.net == "base" and xt.shape[1] != 4:
            raise ShapeError(f"a base network is selected on 4x4 test lattices; {t} holds {xt.shape[1]}x{xt.shape[1]}")
        rg_steps(xt.shape[1])
        tests[xt.shape[1]] = (xt, yt)
    size = x.shape[1]
    _check_same_data(out, {"train": digests[str(args.data)],
                           "test": sorted(digests[str(t)] for t in args.test or [])})

    def evaluate(net) -> dict:
        return {f"acc{n}": round_accuracy(predict_batches(net, xt, 2048), yt) for n, (xt, yt) in sorted(tests.items())}

    select = f"acc{max(tests)}" if tests else None
    net_kw = {"width": args.width, "depth": args.depth}
    torch.manual_seed(args.seed)
    if args.net == "base":
        if size != 4:
            raise ShapeError(f"the base network trains on 4x4 lattices; {args.data} holds {size}x{size}")
        net_kw["padding"] = args.padding or "zero"
        net = BaseNet(**net_kw)
        trainer = Trainer(net, cfg, out / "checkpoints", evaluate=evaluate, select=select)
        name, kwargs = "margalit2022.base", net_kw
    else:
        if not args.base:
            raise ConfigError("train rg needs --base MODEL (a base network or a compound model)")
        base, bmeta = _load_model(args.base)
        base = getattr(base, "base", base)
        if size < 8:
            raise ShapeError(f"the RG network trains on lattices of size >= 8; {args.data} holds {size}x{size}")
        net_kw["padding"] = args.padding or "periodic"
        rg = RGNet(**net_kw)
        if args.init == "decimation" and not (out / "checkpoints" / "history.json").exists():
            init_cfg = TrainConfig(epochs=1, batch_size=256, optimizer="adam", lr=1e-3, seed=args.seed)
            Trainer(rg, init_cfg, out / "decimation_init").fit(
                decimation_batches(args.init_samples, 256, seed=args.seed))
        net = CompoundNet(base, rg)
        classes = getattr(base, "config", {}).get("head") == "classes"
        trainer = Trainer(net, cfg, out / "checkpoints", evaluate=evaluate, select=select,
                          loss=chern_class_loss if classes else chern_loss)
        name = "margalit2022.chern"
        bname, bkw = bmeta["net"]["name"], bmeta["net"]["kwargs"]
        if bname == "margalit2022.chern":
            kwargs = {"base": bkw["base"], "rg": net_kw, "base_kind": bkw.get("base_kind", "paper")}
        else:
            kwargs = {"base": bkw, "rg": net_kw,
                      "base_kind": "invariant" if bname == "margalit2022.base_invariant" else "paper"}

    def show(r):
        m = ", ".join(f"{k} {100 * v:.2f} %" for k, v in r["metrics"].items())
        print(f"epoch {r['epoch']}: loss {r['train_loss']:.4f}{', ' + m if m else ''} ({r['seconds']:.0f} s)", flush=True)

    trainer.fit(tensor_batches(x, y, cfg.batch_size, args.seed), on_epoch=show)
    best = trainer.load_best()
    metrics = trainer.history[best]["metrics"]
    atomic_write_bytes(out / "model.safetensors", model_bytes(net, name, kwargs, {
        "accuracy": metrics, "best_epoch": best, "train_data": str(args.data), "train_samples": int(len(y))}))
    print(f"model: {out / 'model.safetensors'} (epoch {best}{', ' if metrics else ''}"
          + ", ".join(f"{k} {100 * v:.2f} %" for k, v in metrics.items()) + ")")
    return 0


def add_commands(sub) -> None:
    """Add ``train``, ``evaluate`` and ``predict`` to the CLI's sub-parsers."""
    t = sub.add_parser("train", help="train a base or RG network (margalit2022) on a generated dataset; resumable")
    t.add_argument("net", choices=["base", "rg"], help="base: 4x4 base network; rg: RG network inside base∘RG^k")
    t.add_argument("data", help="training dataset folder (topoml generate)")
    t.add_argument("--test", action="append", help="test dataset folder (repeatable); the largest selects the model")
    t.add_argument("--out", required=True, help="output folder (rerun to resume)")
    t.add_argument("--base", help="base network or compound model (.safetensors), for `train rg`")
    t.add_argument("--init", choices=["decimation", "random"], default="decimation", help="RG initialization")
    t.add_argument("--init-samples", type=positive_int, default=200_000, help="decimation pre-training samples")
    t.add_argument("--width", type=positive_int, default=32)
    t.add_argument("--depth", type=positive_int, default=9)
    t.add_argument("--padding", choices=["zero", "periodic"])
    t.add_argument("--epochs", type=positive_int, default=5)
    t.add_argument("--batch-size", type=positive_int, default=256)
    t.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    t.add_argument("--lr", type=positive_float, default=2e-3)
    t.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
    t.add_argument("--seed", type=nonnegative_int, default=0)
    t.add_argument("--threads", type=positive_int, default=2)
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
    p.add_argument("--threads", type=positive_int, default=1)
    p.set_defaults(func=_cmd_predict)
