"""oriekhov2025 networks: the exact-topo identity, gauge invariance, parameter counts, shapes, bad input;
SVD pruning helpers; chain data sets."""

import numpy as np
import pytest
import torch

from topoml.data import chain_sets as cs
from topoml.errors import ConfigError, DatasetError, InputError, ShapeError
from topoml.evaluate import pruning
from topoml.hamiltonians import ssh
from topoml.data.chain_features import chain_features
from topoml.invariants.real_space import winding_tensor
from topoml.nets import count_parameters, get_net
from topoml.nets.chain import ChainCNN, TopoFactorized, TopoKernel, TopoLinear, correlation_matrix

NAMES = ["topo_linear", "topo_factorized", "topo_kernel", "mlp", "shallow", "cnn", "sublattice"]


def random_chains(n, L, R, seed, periodic=False):
    rng = np.random.default_rng(seed)
    v, w = ssh.uniform_hoppings(L, rng.uniform(-1, 1, n), rng.uniform(-1, 1, (n, R)))
    v, w = ssh.disordered_hoppings(v, w, intra_strength=0.3, inter_strength=0.3, rng=rng)
    f = chain_features(v, w, periodic=periodic)
    return torch.from_numpy(np.stack([f.a, f.b], axis=1)), f


# ------------------------------------------------------------------ the exact topo identity
@pytest.mark.parametrize("L, R", [(8, 1), (20, 2), (33, 3)])
@pytest.mark.parametrize("cls", [TopoLinear, TopoFactorized, TopoKernel])
def test_exact_topo_reproduces_rswn_to_round_off_on_every_sample(cls, L, R):
    x, f = random_chains(200, L, R, seed=L + R)
    net = cls(L=L, init="exact", head=0, dtype=torch.float64)
    W = net.invariant(x).detach().numpy()
    assert np.max(np.abs(W - f.winding.value)) < 1e-11
    valid = f.winding.valid
    assert valid.sum() > 20
    assert np.all(np.rint(W[valid]) == f.winding.label[valid])
    # with the residual head (output layer zero at init) the forward pass is the same number
    torch.manual_seed(0)
    net_h = cls(L=L, init="exact", head=8, dtype=torch.float64).double()
    assert torch.allclose(net_h(x), torch.from_numpy(W), atol=1e-11)


def test_factorized_and_kernel_exact_tensors_equal_winding_tensor():
    for L in (8, 20):
        Te = torch.from_numpy(winding_tensor(L))
        for cls in (TopoFactorized, TopoKernel, TopoLinear):
            assert torch.allclose(cls(L=L, init="exact", dtype=torch.float64).tensor(L), Te, atol=1e-12)


def test_kernel_on_other_lengths_is_the_exact_tensor_within_its_range():
    net = TopoKernel(L=20, init="exact", dtype=torch.float64)
    assert torch.allclose(net.tensor(12), torch.from_numpy(winding_tensor(12)), atol=1e-12)
    T40 = net.tensor(40).detach().numpy()
    Te = winding_tensor(40)
    d = np.subtract.outer(np.arange(40), np.arange(40))
    assert np.allclose(T40[np.abs(d) <= 19], Te[np.abs(d) <= 19]) and np.all(T40[np.abs(d) > 19] == 0)


def test_inits_differ_and_are_seeded():
    Te = winding_tensor(20)
    rms = np.sqrt(np.mean(Te**2))
    torch.manual_seed(1)
    a = TopoLinear(init="random").T.detach().numpy()
    torch.manual_seed(1)
    b = TopoLinear(init="random").T.detach().numpy()
    torch.manual_seed(1)
    p = TopoLinear(init="perturbed", perturbation=0.5).T.detach().numpy()
    assert np.array_equal(a, b)
    assert 0.3 < np.sqrt(np.mean((p - Te) ** 2)) / rms < 0.7
    assert np.corrcoef(a.ravel(), Te.ravel())[0, 1] < 0.3


# ------------------------------------------------------------------ gauge invariance
def test_G_and_gauge_invariant_networks_ignore_eigenvector_signs():
    x, f = random_chains(50, 20, 2, seed=3)
    xs = torch.from_numpy(cs.scramble(x.numpy(), rng=4))
    assert not torch.allclose(x, xs)
    assert torch.allclose(correlation_matrix(x), correlation_matrix(xs), atol=1e-12)
    assert np.allclose(correlation_matrix(x).numpy(), f.G, atol=1e-12)
    torch.manual_seed(0)
    for name in ("topo_linear", "topo_factorized", "topo_kernel", "sublattice"):
        net = get_net(f"oriekhov2025.{name}", L=20).double()
        assert torch.allclose(net(x), net(xs), atol=1e-9), name
    mlp = get_net("oriekhov2025.mlp", L=20).double()
    assert not torch.allclose(mlp(x), mlp(xs), atol=1e-6)  # raw amplitudes: gauge dependent


# ------------------------------------------------------------------ parameter counts and shapes
def test_parameter_counts():
    counts = {n: count_parameters(get_net(f"oriekhov2025.{n}", L=20)) for n in NAMES}
    assert counts == {"topo_linear": 400 + 25, "topo_factorized": 80 + 25, "topo_kernel": 39 + 25, "mlp": 53377,
                      "shallow": 12833, "cnn": 577, "sublattice": 12865}
    assert count_parameters(TopoLinear(L=20, head=0)) == 400


@pytest.mark.parametrize("name", NAMES)
def test_output_shape_and_dtype(name):
    net = get_net(f"oriekhov2025.{name}", L=12)
    y = net(torch.randn(5, 2, 12, 12))
    assert y.shape == (5,) and y.dtype == torch.float32
    with pytest.raises(ShapeError):
        net(torch.randn(5, 12, 12))
    with pytest.raises(ShapeError):
        net(torch.randn(5, 3, 12, 12))
    if getattr(net, "size_agnostic", False):
        assert net(torch.randn(3, 2, 16, 16)).shape == (3,)
    else:
        with pytest.raises(ShapeError, match="built for L = 12"):
            net(torch.randn(3, 2, 16, 16))


def test_cnn_is_size_agnostic():
    assert ChainCNN().size_agnostic and TopoKernel().size_agnostic and not TopoLinear().size_agnostic


@pytest.mark.parametrize(
    "name, kwargs, exc",
    [
        ("topo_linear", {"init": "bogus"}, InputError),
        ("topo_linear", {"perturbation": -1.0}, InputError),
        ("topo_factorized", {"rank": 1, "init": "exact"}, InputError),
        ("topo_factorized", {"rank": 0}, InputError),
        ("topo_linear", {"L": 3}, ShapeError),
        ("topo_linear", {"head": -1}, InputError),
        ("mlp", {"hidden": ()}, InputError),
        ("cnn", {"kernel": 4}, InputError),
        ("mlp", {"nonsense": 1}, ConfigError),
    ],
)
def test_bad_arguments(name, kwargs, exc):
    with pytest.raises(exc):
        get_net(f"oriekhov2025.{name}", **kwargs)


def test_registered():
    from topoml.nets import available_nets

    assert {f"oriekhov2025.{n}" for n in NAMES} <= set(available_nets())


# ------------------------------------------------------------------ pruning
def test_low_rank_and_pruned_copy():
    torch.manual_seed(0)
    M = torch.randn(6, 10)
    for k in range(0, 7):
        assert torch.linalg.matrix_rank(pruning.low_rank(M, k)) == k
    net = get_net("oriekhov2025.shallow", L=8, hidden=6)
    p = pruning.pruned(net, "first.weight", 2)
    assert torch.linalg.matrix_rank(p.first.weight) == 2
    assert torch.linalg.matrix_rank(net.first.weight) == 6  # original untouched
    with pytest.raises(InputError):
        pruning.low_rank(M, -1)
    with pytest.raises(InputError):
        pruning.pruned(net, "nope.weight", 1)
    with pytest.raises(ShapeError):
        pruning.pruned(net, "first.bias", 1)


def test_pruning_curve_full_rank_equals_unpruned():
    from topoml.evaluate.metrics import accuracy
    from topoml.train.trainer import predict

    s = cs.chain_set(60, 8, R=1, w_max=(1.0,), rng=0)
    torch.manual_seed(0)
    net = get_net("oriekhov2025.shallow", L=8, hidden=6)
    curve = pruning.pruning_curve(net, "first.weight", s.x, s.label, [1, 6])
    assert curve[1] == accuracy(predict(net, s.x), s.label)
    # exact T has rank 2: pruning it to rank 2 keeps every label
    topo = TopoLinear(L=8, init="exact", head=0)
    assert pruning.pruning_curve(topo, "T", s.x, s.label, [2]) == [1.0]
    assert np.allclose(pruning.singular_values(topo, "T")[2:], 0, atol=1e-5)


def test_cell_profile_and_edge_weight():
    net = get_net("oriekhov2025.shallow", L=8, hidden=4)
    with torch.no_grad():
        W = torch.zeros(4, 2, 8, 8)
        W[0, :, 0, :] = 1.0  # first cell only
        W[1, 1, 7, 3] = 0.5  # last cell
        net.first.weight.copy_(W.reshape(4, -1))
    prof = pruning.cell_profile(net, "first.weight", 2, (2, 8, 8), (1,))
    assert prof.shape == (8,) and np.isclose(prof.sum(), 1.0)
    assert pruning.edge_weight(prof, 1) == pytest.approx(1.0)
    assert pruning.edge_weight(np.ones(20), 2) == pytest.approx(0.2)
    with pytest.raises(ShapeError):
        pruning.cell_profile(net, "first.weight", 1, (8, 8), (0,))
    with pytest.raises(InputError):
        pruning.edge_weight(np.ones(8), 5)
    topo = TopoLinear(L=8, init="exact")
    p = pruning.cell_profile(topo, "T", 2, (8,), (0,), side="both")
    assert np.isclose(p.sum(), 1.0)


# ------------------------------------------------------------------ chain data sets
def test_chain_set_labels_balance_and_determinism():
    s = cs.chain_set(101, 12, labels=(0, 1, 2), rng=5)
    assert s.x.shape == (101, 2, 12, 12) and s.x.dtype == np.float32
    assert s.counts() == {0: 34, 1: 34, 2: 33}
    f = chain_features(s.v, s.w)
    assert np.array_equal(f.winding.label, s.label) and np.all(f.winding.valid)
    assert np.allclose(s.x[:, 0], f.a, atol=1e-6)
    s2 = cs.chain_set(101, 12, labels=(0, 1, 2), rng=5)
    assert np.array_equal(s.x, s2.x)
    assert 0 < s.kept_fraction < 1


def test_chain_set_bad_input():
    with pytest.raises(InputError):
        cs.chain_set(10, 12, labels=(2,), R=1, w_max=(1.0,))
    with pytest.raises(InputError):
        cs.chain_set(10, 12, labels=())
    with pytest.raises(InputError):
        cs.chain_set(10, 3)
    with pytest.raises(InputError):
        cs.clean_hoppings(5, 10, R=2, w_max=(1.0,))
    with pytest.raises(DatasetError):
        cs.chain_set(10, 12, labels=(2,), w_max=(1.0, 0.0))  # w2 = 0: winding 2 impossible


def test_proxies_and_disorder_sets():
    s = cs.chain_set(40, 12, rng=1)
    m = cs.mask_edges(s.x, 2)
    assert np.all(m[..., :2, :] == 0) and np.all(m[..., -2:, :] == 0) and np.array_equal(m[..., 2:-2, :], s.x[..., 2:-2, :])
    with pytest.raises(InputError):
        cs.mask_edges(s.x, 6)
    p = cs.relabel(s, periodic=True)
    assert len(p) <= len(s) and p.kept_fraction > 0.5
    d = cs.disorder_series(s, [0.0, 0.5], "hopping", rng=2)
    assert np.array_equal(d[0.0].x, s.x) and np.array_equal(d[0.0].label, s.label)
    o = cs.disorder_series(s, [0.0, 0.5], "onsite", rng=2)
    assert np.array_equal(o[0.5].label, s.label) and not np.allclose(o[0.5].x, s.x)
    with pytest.raises(InputError):
        cs.disorder_series(s, [0.1], "bogus")
    with pytest.raises(InputError):
        cs.disorder_series(s, [-0.1], "hopping")


def test_chain_sets_do_not_import_torch():
    import subprocess
    import sys

    code = "import sys, topoml.data.chain_sets; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
