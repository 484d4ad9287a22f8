"""Lattices → Chern numbers: reading and checking lattice files, loading Chern networks, predicting.

The one way in for predictions of the margalit2022 networks (``topoml predict``, ``topoml evaluate``,
``topoml chern --method network``, the reproduction's accuracies):

* :func:`check_lattices` / :func:`load_lattices` — arrays or ``.npy`` / ``.h5`` files of lattices
  ``(N, N, 3)`` or ``(batch, N, N, 3)`` (channels ``mu, t_minus, delta``; ``docs/conventions-margalit2022.md``),
  validated by the physics layer's rule (:func:`topoml.hamiltonians.pip.check_lattice`);
* :func:`load_chern_model` — a network saved by ``topoml train`` / ``reproduce``, or the packaged one;
* :func:`predict_chern` — Chern numbers and a confidence.

Importing this module does not import torch: the exact methods read lattices with it too
(``rg_size=False``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from topoml.errors import CheckpointError, InputError, ShapeError

__all__ = ["PACKAGED_MODEL", "packaged_weights", "check_lattices", "load_lattices", "load_chern_model",
           "check_net_size", "measured_accuracy_warning", "predict_chern"]

#: File name of the pretrained ``base ∘ RG`` weights inside ``topoml.weights``.
PACKAGED_MODEL = "margalit2022_chern.safetensors"


def packaged_weights() -> Path:
    """Path of the pretrained ``base ∘ RG`` weights shipped inside the package."""
    return Path(str(resources.files("topoml.weights").joinpath(PACKAGED_MODEL)))


def check_lattices(a, where: str = "lattices", *, rg_size: bool = True) -> np.ndarray:
    """Validate lattices and return them as a batch ``(batch, N, N, 3)``.

    Parameters
    ----------
    a : array_like of real numbers, shape (N, N, 3) or (batch, N, N, 3)
        Per-site ``(mu, t_minus, delta)``.
    where : str
        Names the input in error messages (a file name).
    rg_size : bool, default True
        ``True``: for the networks, float32 and ``N = 4·2^k``; ``False``: for the exact methods, float64
        and any ``N >= 2``.

    Returns
    -------
    ndarray of float32 (float64 with ``rg_size=False``), shape (batch, N, N, 3), batch >= 1

    Raises
    ------
    InputError
        Not a real numeric array (complex, strings, objects), or NaN/inf values, also after the cast
        to float32 (values beyond ±3.4e38).
    ShapeError
        Not ``(N, N, 3)`` / ``(batch, N, N, 3)``, an empty batch, or (``rg_size``) ``N`` not ``4·2^k``.
    """
    from topoml.hamiltonians.pip import check_lattice

    x = check_lattice(a, name=where, dtype=np.float32 if rg_size else np.float64)
    if x.ndim == 3:
        x = x[None]
    if len(x) == 0:
        raise ShapeError(f"{where}: no lattices (an empty batch of shape {x.shape})")
    if rg_size:
        from topoml.nets.rg import rg_steps

        try:
            rg_steps(x.shape[1])
        except ShapeError as e:
            raise ShapeError(f"{where}: {e}") from None
    return x


def load_lattices(path: str | Path, key: str | None = None, *, rg_size: bool = True) -> np.ndarray:
    """Read lattices from ``.npy`` or ``.h5``/``.hdf5`` (dataset ``key``, default ``inputs`` or the only one).

    ``rg_size=False`` accepts any ``N >= 2`` and keeps float64 (exact methods, no torch import); the
    networks need ``N = 4·2^k`` and get float32 (see :func:`check_lattices`).

    Returns
    -------
    ndarray of float32 (float64 with ``rg_size=False``), shape (batch, N, N, 3)

    Raises
    ------
    InputError
        Missing, empty or unreadable file, not a ``.npy`` file, unknown extension, missing key,
        NaN or inf values (see :func:`check_lattices`).
    ShapeError
        Not ``(N, N, 3)`` / ``(batch, N, N, 3)``, an empty batch, or (``rg_size``) ``N`` not ``4·2^k``.
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
    return check_lattices(a, str(p), rg_size=rg_size)


def load_chern_model(weights: str | Path | None = None):
    """A Chern network and its metadata: ``weights`` (a file of ``topoml train`` / ``reproduce``), or the
    packaged pretrained ``base ∘ RG`` when ``None``.

    Returns
    -------
    (net, metadata)
        See :func:`topoml.train.checkpoint.load_model`.

    Raises
    ------
    CheckpointError
        Missing, corrupt or foreign file.
    """
    from topoml.train.checkpoint import load_model

    p = Path(weights) if weights else packaged_weights()
    if weights and not p.is_file():
        raise CheckpointError(f"weights file {p} not found")
    return load_model(p)


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


#: Where the warning of :func:`measured_accuracy_warning` sends users for a label they can trust.
_EXACT = "; exact labels: topoml chern --method bott (dense) or --method localizer (sparse, large N)"


def measured_accuracy_warning(meta: dict, size: int) -> str | None:
    """A one-line warning when the network described by ``meta`` is not to be trusted at ``size × size``.

    ``meta["accuracy"]`` (size → accuracy on uniform Bott-labelled test lattices) and ``meta["always_zero"]``
    (size → the share of C = 0 on the same sets) are written by ``topoml reproduce margalit2022``. Returns a
    warning when the measured accuracy at ``size`` is at or below answering C = 0 for every lattice, or when
    ``size`` is larger than every measured size and the largest one already was; else ``None`` (also when
    ``meta`` records no accuracy: nothing is known to warn about). The warning names the exact routes of
    ``topoml chern``.
    """
    try:
        acc = {int(k): float(v) for k, v in meta["accuracy"].items()}
        zero = {int(k): float(v) for k, v in meta.get("always_zero", {}).items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    bad = {n for n in acc if n in zero and acc[n] <= zero[n]}
    if size in bad:
        return (f"at {size}x{size} these weights scored {100 * acc[size]:.1f} % on uniform test lattices, not more "
                f"than answering C = 0 for every lattice ({100 * zero[size]:.1f} %): do not trust them at this size{_EXACT}")
    if acc and size > max(acc) and max(acc) in bad:
        n = max(acc)
        return (f"these weights were not measured at {size}x{size}; at {n}x{n} they scored {100 * acc[n]:.1f} %, not "
                f"more than answering C = 0 ({100 * zero[n]:.1f} %): do not trust them at this size{_EXACT}")
    return None


def predict_chern(net, x, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chern numbers of lattices ``x`` by a Chern network (margalit2022: base, ``base ∘ RG^k``, ...).

    Parameters
    ----------
    net : torch.nn.Module
        Maps ``(batch, N, N, 3)`` float32 to a real Chern number ``(batch,)`` or class logits
        ``(batch, 5)`` over :data:`topoml.nets.rg.CHERN_CLASSES`.
    x : array_like, shape (N, N, 3) or (batch, N, N, 3), N = 4·2^k
    batch_size : int, default 256
        Lattices per forward pass (:func:`topoml.train.trainer.predict`).

    Returns
    -------
    (labels, raw, confidence)
        ``labels`` int64 (n,); ``raw`` float64, the outputs (n,) or class probabilities (n, 5);
        ``confidence`` float64 (n,) of :func:`topoml.nets.rg.chern_prediction` (1 = sure; regression:
        ``1 − 2·distance to the nearest integer``, classes: the winning softmax probability).

    Raises
    ------
    InputError, ShapeError
        Invalid lattices (see :func:`check_lattices`).
    CheckpointError
        The network outputs NaN or inf (corrupt weights).
    """
    import torch

    from topoml.nets.rg import chern_prediction
    from topoml.train.trainer import predict

    raw = predict(net, check_lattices(x), batch_size)
    if not np.all(np.isfinite(raw)):
        raise CheckpointError("the network outputs NaN or inf on these lattices: its weights are corrupt "
                              "(or the inputs far outside the training range)")
    label, conf = chern_prediction(torch.from_numpy(raw))
    if raw.ndim == 2:
        raw = torch.softmax(torch.from_numpy(raw), dim=1).numpy()
    return label.numpy(), raw, conf.double().numpy()
