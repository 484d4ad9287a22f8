"""Random-number helpers: every stochastic function in topoml takes ``rng``.

``rng`` may be an ``int`` seed, a :class:`numpy.random.Generator`, a
:class:`numpy.random.SeedSequence` or ``None`` (fresh OS entropy). Independent streams for shards or
seeds come from :meth:`numpy.random.SeedSequence.spawn`, so results do not depend on how work is split.
"""

from __future__ import annotations

import zlib

import numpy as np

from topoml.errors import InputError

RngLike = int | np.random.Generator | np.random.SeedSequence | None

__all__ = ["RngLike", "as_generator", "derive_seed", "spawn_seeds"]


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


def derive_seed(*key: int | str) -> int:
    """A seed in ``[0, 2³²)`` that is a fixed function of ``key``: a base seed and names or counters.

    ``derive_seed(seed, "train")`` gives each data set, job or stage of an experiment its own stream;
    ``derive_seed(seed, epoch)`` each epoch of a training run. The key's entries feed one
    :class:`numpy.random.SeedSequence` (a string enters as its CRC-32), so the value is stable across
    runs, platforms and worker counts. Unlike :func:`spawn_seeds` (children numbered 0…n−1), the
    streams are addressed by name.

    Parameters
    ----------
    *key : int >= 0 or str

    Returns
    -------
    int

    Raises
    ------
    InputError
        A negative integer, a bool, or an entry that is neither int nor str.
    """
    entropy = []
    for k in key:
        if isinstance(k, str):
            entropy.append(zlib.crc32(k.encode()))
        elif isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 0:
            entropy.append(int(k))
        else:
            raise InputError(f"seed keys must be non-negative integers or strings, got {k!r}")
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])
