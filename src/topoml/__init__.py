"""topoml: exact topological invariants of lattice Hamiltonians, labelled datasets, and networks.

Physics (``topoml.hamiltonians``) and invariants (``topoml.invariants``) use numpy/scipy only and do
not import torch; networks live in ``topoml.nets``, training in ``topoml.train``.
"""

from topoml.errors import TopomlError

try:
    from importlib.metadata import version as _version

    __version__ = _version("topoml")
except Exception:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0.0.0+unknown"

__all__ = ["TopomlError", "__version__"]
