"""topoml.rng: named seeds."""

import zlib

import numpy as np
import pytest

from topoml.errors import InputError
from topoml.rng import derive_seed


@pytest.mark.parametrize("base, name", [(0, "train"), (7, "rg_init"), (2022, "cnn-3"), (2**40, "")])
def test_derive_seed_is_the_experiments_named_seed(base, name):
    """The derivation the experiments have always used (their seeds, hence their results, are unchanged)."""
    want = int(np.random.SeedSequence([base, zlib.crc32(name.encode())]).generate_state(1)[0])
    assert derive_seed(base, name) == want
    assert derive_seed(base, 5) == int(np.random.SeedSequence([base, 5]).generate_state(1)[0])


def test_derive_seed_separates_names_and_bases():
    seeds = {derive_seed(b, n) for b in range(3) for n in ("train", "val", "test")}
    assert len(seeds) == 9 and all(0 <= s < 2**32 for s in seeds)


@pytest.mark.parametrize("key", [(-1, "x"), (True, "x"), (1.5,), (0, None)])
def test_derive_seed_refuses_bad_keys(key):
    with pytest.raises(InputError):
        derive_seed(*key)
