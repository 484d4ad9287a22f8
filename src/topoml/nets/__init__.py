"""Neural networks (torch.nn.Modules only: no file I/O, no training loops)."""

from topoml.nets.registry import available_nets, count_parameters, get_net, register

__all__ = ["get_net", "register", "available_nets", "count_parameters"]
