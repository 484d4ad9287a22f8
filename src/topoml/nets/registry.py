"""Network registry: build any network of topoml by name (``get_net("zhang2018.cnn")``)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from topoml.errors import ConfigError

__all__ = ["register", "get_net", "available_nets", "count_parameters"]

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str, builder: Callable[..., nn.Module]) -> None:
    """Register ``builder`` under ``name`` (names are unique)."""
    if name in _REGISTRY:
        raise ConfigError(f"network '{name}' is already registered")
    _REGISTRY[name] = builder


def get_net(name: str, **kwargs) -> nn.Module:
    """Build the network registered as ``name`` with keyword arguments ``kwargs``.

    Raises
    ------
    ConfigError
        Unknown name or arguments the builder does not accept.
    """
    try:
        builder = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown network '{name}'; available: {', '.join(available_nets())}") from None
    try:
        return builder(**kwargs)
    except TypeError as e:
        raise ConfigError(f"bad arguments for network '{name}': {e}") from None


def available_nets() -> list[str]:
    """Sorted names of the registered networks."""
    return sorted(_REGISTRY)


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters of ``net``."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def _register_builtin() -> None:
    from functools import partial

    from topoml.nets.winding import LinearWinding, WindingCNN, WindingMLP, WindingSumCNN

    register("zhang2018.fc", WindingMLP)
    register("zhang2018.cnn", WindingCNN)
    register("zhang2018.cnn_linear", partial(WindingCNN, dense_activation=False))
    register("zhang2018.cnn_torchinit", partial(WindingCNN, init="torch"))
    register("zhang2018.cnn_sum", WindingSumCNN)
    register("zhang2018.linear", LinearWinding)

    from topoml.nets import chain

    register("oriekhov2025.topo_linear", chain.TopoLinear)
    register("oriekhov2025.topo_factorized", chain.TopoFactorized)
    register("oriekhov2025.topo_kernel", chain.TopoKernel)
    register("oriekhov2025.mlp", chain.ChainMLP)
    register("oriekhov2025.shallow", chain.ChainShallow)
    register("oriekhov2025.cnn", chain.ChainCNN)
    register("oriekhov2025.sublattice", chain.SublatticeNet)

    from topoml.nets.rg import AveragesNet, BaseNet, Decimation, InvariantBaseNet, RGNet, chern_net

    register("margalit2022.base", BaseNet)
    register("margalit2022.rg", RGNet)
    register("margalit2022.decimation", Decimation)
    register("margalit2022.chern", chern_net)
    register("margalit2022.averages", AveragesNet)
    register("margalit2022.base_invariant", InvariantBaseNet)


_register_builtin()
