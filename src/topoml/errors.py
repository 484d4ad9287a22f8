"""Exception hierarchy of topoml.

Every error the library raises on purpose is a subclass of :class:`TopomlError`, so a caller (and the
CLI, which turns it into a one-line message and a non-zero exit) can catch them all at once. Messages
are one line and say what was wrong and what to do.

Hierarchy::

    TopomlError
    ├── InputError (also ValueError)        bad arguments: shapes, dtypes, NaN/inf, ranges
    │   └── ShapeError                      an array has the wrong shape
    ├── ConfigError (also ValueError)       unknown/misspelled keys, impossible options, unknown experiment
    ├── PhysicsError                        the physics does not admit a well-defined invariant
    │   ├── GapClosedError                  the spectrum (or |h(k)|) closes at a sample point
    │   ├── SymmetryError                   a matrix breaks a required symmetry (Hermiticity, chiral, PHS)
    │   ├── SamplingError                   k-sampling too coarse for the discrete formula to be trusted
    │   └── QuantizationError               an invariant is too far from an integer to be a label
    ├── DatasetError                        missing, corrupt, truncated or incompatible dataset files
    └── CheckpointError                     missing or incompatible network weights / checkpoints
"""

from __future__ import annotations

__all__ = [
    "TopomlError",
    "InputError",
    "ShapeError",
    "ConfigError",
    "PhysicsError",
    "GapClosedError",
    "SymmetryError",
    "SamplingError",
    "QuantizationError",
    "DatasetError",
    "CheckpointError",
]


class TopomlError(Exception):
    """Base class of every error raised on purpose by topoml."""


class InputError(TopomlError, ValueError):
    """An argument is invalid: wrong dtype, NaN/inf, value out of range."""


class ShapeError(InputError):
    """An array argument has the wrong shape."""


class ConfigError(TopomlError, ValueError):
    """A configuration is invalid: unknown key, impossible option, unknown experiment name."""


class PhysicsError(TopomlError):
    """The input does not admit a well-defined topological invariant."""


class GapClosedError(PhysicsError):
    """The gap closes (e.g. |h(k)| vanishes at a sample point); the invariant is undefined."""


class SymmetryError(PhysicsError):
    """A matrix breaks a symmetry the invariant requires (Hermiticity, chiral, particle-hole)."""


class SamplingError(PhysicsError):
    """The sampling is too coarse for a discrete formula to be trusted (e.g. |Δθ| near π)."""


class QuantizationError(PhysicsError):
    """A computed invariant is too far from an integer to be used as a label."""


class DatasetError(TopomlError):
    """A dataset file is missing, corrupt, truncated or of an incompatible schema."""


class CheckpointError(TopomlError):
    """Network weights or a training checkpoint are missing, corrupt or incompatible."""
