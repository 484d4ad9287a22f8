"""Network weights on disk as safetensors (no pickles: loading never runs arbitrary code)."""

from __future__ import annotations

from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load, save
from torch import nn

from topoml.errors import CheckpointError

__all__ = ["state_bytes", "load_state_bytes", "load_weights"]


def state_bytes(net: nn.Module, metadata: dict[str, str] | None = None) -> bytes:
    """The network's ``state_dict`` serialized as safetensors bytes."""
    state = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    return save(state, metadata=metadata)


def load_state_bytes(net: nn.Module, data: bytes) -> nn.Module:
    """Load safetensors bytes into ``net`` (strict); raises CheckpointError on corrupt/mismatched data."""
    try:
        state = load(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"corrupt weights: {e}") from None
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
