"""The contract of every registered network (``topoml.nets.available_nets()``, issue 11).

For each network: float32 outputs of the documented shape; the same parameters and outputs from the same
torch seed (and other parameters from another seed); a save/load round trip through the network file
format (:func:`topoml.train.checkpoint.model_bytes` / :func:`~topoml.train.checkpoint.load_model`) that
gives bit-identical outputs; inputs of a wrong shape refused with :class:`~topoml.errors.ShapeError`, by
the network itself and through :func:`topoml.train.trainer.predict`. A network registered without an entry
in ``CONTRACTS`` fails :func:`test_every_registered_network_has_a_contract`.
"""

from __future__ import annotations

import pytest
import torch

from topoml.errors import ShapeError
from topoml.nets import available_nets, get_net
from topoml.train.checkpoint import load_model, model_bytes
from topoml.train.trainer import predict

_SMALL_CHERN = {"width": 4, "depth": 3}

#: name -> (small kwargs, input shape, output shape, wrong input shapes)
CONTRACTS: dict[str, tuple[dict, tuple, tuple, list[tuple]]] = {
    **{f"zhang2018.{n}": ({"L": 8}, (5, 9, 2), (5,), [(5, 9, 3), (5, 10, 2), (9, 2), (5, 9, 2, 1)])
       for n in ("fc", "cnn", "cnn_linear", "cnn_torchinit", "linear")},
    # the sum readout adds local windings: any number of k points, but (h_x, h_y) pairs
    "zhang2018.cnn_sum": ({"L": 8}, (5, 9, 2), (5,), [(5, 9, 3), (5, 1, 2), (9, 2)]),
    **{f"oriekhov2025.{n}": (kw, (5, 2, 6, 6), (5,), [(5, 2, 6, 5), (5, 3, 6, 6), (2, 6, 6), (5, 2, 8, 8)])
       for n, kw in (("topo_linear", {"L": 6, "head": 4}), ("topo_factorized", {"L": 6, "head": 4}),
                     ("mlp", {"L": 6, "hidden": [8]}), ("shallow", {"L": 6, "hidden": 4}),
                     ("sublattice", {"L": 6, "hidden": 4}))},
    # size-agnostic chain networks: any L, but (batch, 2, L, L)
    "oriekhov2025.topo_kernel": ({"L": 6, "head": 4}, (5, 2, 6, 6), (5,), [(5, 2, 6, 5), (5, 3, 6, 6), (2, 6, 6)]),
    "oriekhov2025.cnn": ({"channels": 3, "kernel": 3, "dense": 4}, (5, 2, 6, 6), (5,),
                         [(5, 2, 6, 5), (5, 3, 6, 6), (2, 6, 6)]),
    "margalit2022.base": (_SMALL_CHERN, (5, 4, 4, 3), (5,), [(5, 4, 4, 2), (5, 4, 5, 3), (5, 4, 4), (5, 1, 1, 3)]),
    "margalit2022.base_invariant": ({"width": 4, "blocks": 1, "hidden": 8}, (5, 4, 4, 3), (5, 5),
                                    [(5, 4, 4, 2), (5, 4, 5, 3), (5, 4, 4)]),
    "margalit2022.averages": ({"width": 8, "depth": 1}, (5, 4, 4, 3), (5,), [(5, 4, 4, 2), (5, 4, 5, 3), (5, 48)]),
    "margalit2022.rg": (_SMALL_CHERN, (5, 8, 8, 3), (5, 4, 4, 3), [(5, 8, 8, 2), (5, 6, 8, 3), (5, 5, 5, 3)]),
    "margalit2022.decimation": ({}, (5, 8, 8, 3), (5, 4, 4, 3), [(5, 8, 8, 2), (5, 6, 8, 3), (5, 5, 5, 3)]),
    "margalit2022.chern": ({"base": _SMALL_CHERN, "rg": _SMALL_CHERN}, (5, 8, 8, 3), (5,),
                           [(5, 8, 8, 2), (5, 12, 12, 3), (5, 6, 8, 3), (5, 2, 2, 3)]),
}

NAMES = sorted(CONTRACTS)


def _build(name: str, seed: int = 0):
    torch.manual_seed(seed)
    return get_net(name, **CONTRACTS[name][0]).eval()


def _input(name: str, seed: int = 1) -> torch.Tensor:
    return torch.randn(CONTRACTS[name][1], generator=torch.Generator().manual_seed(seed))


def _out(net, x):
    with torch.no_grad():
        return net(x)


def test_every_registered_network_has_a_contract():
    assert set(available_nets()) == set(CONTRACTS)


@pytest.mark.parametrize("name", NAMES)
def test_output_shape_and_dtype(name):
    y = _out(_build(name), _input(name))
    assert y.shape == CONTRACTS[name][2] and y.dtype == torch.float32
    assert bool(torch.isfinite(y).all())


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_a_seed(name):
    a, b, c = _build(name, 0), _build(name, 0), _build(name, 1)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    x = _input(name)
    assert torch.equal(_out(a, x), _out(b, x))
    if any(p.requires_grad for p in a.parameters()):  # a parameter-free map (decimation) has nothing to draw
        assert not all(torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip_is_bit_identical(name):
    net = _build(name)
    with torch.no_grad():  # move every parameter off its initial value, so that loading has to restore it
        for p in net.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=p.dtype))
    loaded, meta = load_model(model_bytes(net, name, CONTRACTS[name][0], {"note": "contract"}))
    assert meta["net"] == {"name": name, "kwargs": CONTRACTS[name][0]} and meta["note"] == "contract"
    assert type(loaded) is type(net) and not loaded.training
    x = _input(name)
    assert torch.equal(_out(loaded, x), _out(net, x))
    fresh = _build(name, 1)
    if any(p.requires_grad for p in fresh.parameters()):  # the round trip, not the seed, made them equal
        assert not torch.equal(_out(fresh, x), _out(net, x))


@pytest.mark.parametrize("name", NAMES)
def test_wrong_shapes_are_refused_with_shape_error(name):
    net = _build(name)
    for shape in CONTRACTS[name][3]:
        x = torch.zeros(shape)
        with pytest.raises(ShapeError):
            net(x)
        with pytest.raises(ShapeError):
            predict(net, x.numpy())
