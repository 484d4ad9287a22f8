"""Random-number helpers: every stochastic function in topoml takes ``rng``.

``rng`` may be an ``int`` seed, a :class:`numpy.random.Generator`, a
:class:`numpy.random.SeedSequence` or ``None`` (fresh OS entropy). Independent streams for shards or
seeds come from :meth:`numpy.random.SeedSequence.spawn`, so results do not depend on how work is split.
"""

from __future__ import annotations

import numpy as np

from topoml.errors import InputError

RngLike = int | np.random.Generator | np.random.SeedSequence | None

__all__ = ["RngLike", "as_generator", "spawn_seeds"]


def as_generator(rng: RngLike) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``rng`` (int, Generator, SeedSequence or None).

    Raises
    ------
    InputError
        If ``rng`` is of another type or a negative integer.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise InputError(f"seed must be a non-negative integer, got {rng}")
        return np.random.default_rng(int(rng))
    raise InputError(f"rng must be an int seed, a numpy Generator, a SeedSequence or None, got {type(rng).__name__}")


def spawn_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent child seed sequences of ``seed`` (stable for a given ``seed`` and index)."""
    if n < 0:
        raise InputError(f"number of seeds must be non-negative, got {n}")
    return np.random.SeedSequence(seed).spawn(n)
