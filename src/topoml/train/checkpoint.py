"""Network weights on disk as safetensors (no pickles: loading never runs arbitrary code).

torch is imported on first use, so :func:`read_model_metadata` (the file's JSON header) works without it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors import SafetensorError

from topoml.errors import CheckpointError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["state_bytes", "load_state_bytes", "load_weights", "model_bytes", "load_model", "read_model_metadata"]


def state_bytes(net: nn.Module, metadata: dict[str, str] | None = None) -> bytes:
    """The network's ``state_dict`` serialized as safetensors bytes."""
    from safetensors.torch import save

    state = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    return save(state, metadata=metadata)


def load_state_bytes(net: nn.Module, data: bytes) -> nn.Module:
    """Load safetensors bytes into ``net`` (strict); raises CheckpointError on corrupt/mismatched data."""
    import torch
    from safetensors.torch import load

    try:
        state = load(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"corrupt weights: {e}") from None
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"corrupt weights: tensor '{bad[0]}' holds NaN or inf")
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise CheckpointError(f"weights do not fit the network: {first}") from None
    return net


def load_weights(net: nn.Module, path: str | Path) -> nn.Module:
    """Load a ``.safetensors`` file into ``net``; CheckpointError if missing, corrupt or mismatched."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read weights {p}: {e.strerror}") from None
    return load_state_bytes(net, data)


def model_bytes(net: nn.Module, name: str, kwargs: dict, metadata: dict | None = None) -> bytes:
    """Weights plus what rebuilds the network: registry ``name`` and its ``kwargs`` (JSON metadata).

    The result loads with :func:`load_model`; ``metadata`` (JSON-serializable) is stored alongside
    (accuracy, training data, provenance).
    """
    meta = {"topoml_net": json.dumps({"name": name, "kwargs": kwargs}, sort_keys=True),
            "topoml_metadata": json.dumps(metadata or {}, sort_keys=True)}
    return state_bytes(net, meta)


def _model_header(data: bytes) -> tuple[dict, dict]:
    """``(network spec, metadata)`` from the JSON header of a file written by :func:`model_bytes`.

    Raises ValueError, KeyError, TypeError or UnicodeDecodeError when the header is not one."""
    header_len = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8 : 8 + header_len]).get("__metadata__", {}) or {}
    return json.loads(meta["topoml_net"]), json.loads(meta.get("topoml_metadata", "{}"))


def read_model_metadata(path: str | Path) -> dict:
    """The metadata stored by :func:`model_bytes` (with ``"net"``), reading the file's header only.

    Raises
    ------
    CheckpointError
        Missing or unreadable file, or not a topoml network file.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            data = head + f.read(int.from_bytes(head, "little"))
    except OSError as e:
        raise CheckpointError(f"cannot read weights {path}: {e.strerror}") from None
    try:
        spec, extra = _model_header(data)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise CheckpointError(f"{path}: not a topoml network file (no network description in its header)") from None
    return {**extra, "net": spec}


def load_model(source: str | Path | bytes) -> tuple[nn.Module, dict]:
    """Rebuild and load a network saved by :func:`model_bytes` (no pickles are read).

    Parameters
    ----------
    source : path-like or bytes
        A ``.safetensors`` file or its bytes.

    Returns
    -------
    (net, metadata)
        The network in eval mode and the stored metadata dict (with ``"net"``: name and kwargs).

    Raises
    ------
    CheckpointError
        Missing, corrupt or foreign file, or weights that do not fit.
    """

    from safetensors.torch import load

    from topoml.errors import ConfigError
    from topoml.nets.registry import get_net

    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as e:
            raise CheckpointError(f"cannot read weights {source}: {e.strerror}") from None
    try:
        spec, extra = _model_header(data)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        where = "" if isinstance(source, bytes) else f"{source}: "
        try:  # plain safetensors weights (e.g. a zhang2018 job's weights.safetensors) vs. not safetensors at all
            load(data)
            bare = True
        except Exception:
            bare = False
        if bare:
            raise CheckpointError(f"{where}bare network weights without a network description; this command needs "
                                  "a model saved by `topoml train` (model.safetensors) or the packaged weights") from None
        raise CheckpointError(f"{where}not a safetensors network file") from None
    try:
        net = get_net(spec["name"], **spec["kwargs"])
    except (ConfigError, KeyError, TypeError) as e:
        raise CheckpointError(f"cannot rebuild the stored network: {e}") from None
    load_state_bytes(net, data)
    net.eval()
    return net, {**extra, "net": spec}
