"""Auxiliary targets of the 4×4 base network (issue 10, session 14): BdG energies, the AuxiliaryHead training
view, auxiliary_loss and auxiliary_targets."""

import numpy as np
import pytest
import torch

from topoml.data.sampling import SamplingSpec, sample_lattices
from topoml.errors import ConfigError, InputError, ShapeError
from topoml.hamiltonians.pip import bdg_energies, bdg_hamiltonian, symmetry_group
from topoml.invariants import bott_index, bott_spectrum
from topoml.nets.rg import CHERN_CLASSES, AuxiliaryHead, BaseNet, InvariantBaseNet
from topoml.train.trainer import (StandardizedEnergies, Trainer, TrainConfig, auxiliary_loss, auxiliary_targets,
                                  chern_class_loss, chern_loss, symmetry_augmented, tensor_batches)


@pytest.fixture(scope="module")
def x4():
    return sample_lattices(200, SamplingSpec(lattice_size=4, averages="boundary_biased"), rng=14)


def test_bdg_energies_are_the_positive_half_of_the_spectrum_and_share_the_label_symmetries(x4):
    e = bdg_energies(x4)
    assert e.shape == (200, 16) and e.dtype == np.float64
    assert np.all(e >= 0) and np.all(np.diff(e, axis=1) >= 0)
    np.testing.assert_allclose(e, bott_spectrum(x4).energies, atol=1e-9)
    full = np.linalg.eigvalsh(bdg_hamiltonian(x4[3]))
    np.testing.assert_allclose(np.sort(np.concatenate([-e[3], e[3]])), full, atol=1e-9)  # E -> -E symmetric
    np.testing.assert_allclose(bdg_energies(x4[3]), e[3], atol=1e-12)  # one lattice
    for g in symmetry_group(4)[::3]:  # all 64 kinds: translations, transposition with t- -> -t-, mu -> -mu
        np.testing.assert_allclose(bdg_energies(g.apply(x4)), e, atol=1e-9)
    with pytest.raises(ShapeError):
        bdg_energies(np.zeros((4, 5, 3)))
    with pytest.raises(InputError):
        bdg_energies(np.full((4, 4, 3), np.inf))


def test_standardized_energies_and_targets_follow_the_augmented_lattices(x4):
    std = StandardizedEnergies(x4)
    a = std(torch.from_numpy(x4.astype(np.float32)))
    assert a.shape == (200, 16) and a.dtype == torch.float32
    np.testing.assert_allclose(a.mean(0).numpy(), 0, atol=1e-4)
    np.testing.assert_allclose(a.std(0, unbiased=False).numpy(), 1, atol=1e-3)
    y = bott_index(x4).label
    src = auxiliary_targets(symmetry_augmented(tensor_batches(x4, y, 64, seed=3), seed=5), std)
    assert src.n_samples == 200
    xs, ts = zip(*src(1))
    xa, ta = torch.cat(xs), torch.cat(ts)
    assert ta.shape == (200, 17)
    np.testing.assert_array_equal(bott_index(xa.double().numpy()).label, ta[:, 0].numpy())  # column 0: the label
    np.testing.assert_allclose(ta[:, 1:].numpy(), std(xa).numpy(), atol=1e-6)  # the augmented lattices' targets
    # the energies are invariant, so these equal the targets of the un-augmented lattices (float32 rounding)
    orig = torch.cat([std(x) for x, _ in tensor_batches(x4, y, 64, seed=3)(1)])
    np.testing.assert_allclose(ta[:, 1:].numpy(), orig.numpy(), atol=2e-3)
    with pytest.raises(ShapeError):
        std(torch.zeros(2, 6, 6, 3))
    with pytest.raises(ShapeError):
        StandardizedEnergies(x4[:1])
    with pytest.raises(InputError):
        StandardizedEnergies(np.full((3, 4, 4, 3), np.nan))


@pytest.mark.parametrize("head", ["classes", "regression"])
def test_auxiliary_head_adds_outputs_and_leaves_the_network_unchanged(x4, head):
    torch.manual_seed(0)
    net = InvariantBaseNet(width=8, blocks=1, hidden=16, head=head)
    view = AuxiliaryHead(net, outputs=16, hidden=12).eval()
    x = torch.from_numpy(x4[:32].astype(np.float32))
    with torch.no_grad():
        out, ref = view(x), net(x)
    k = 5 if head == "classes" else 1
    assert out.shape == (32, k + 16)
    torch.testing.assert_close(out[:, :k].squeeze(-1), ref)
    assert set(view.state_dict()) == {f"net.{n}" for n in net.state_dict()} | {f"aux.{n}" for n in view.aux.state_dict()}
    with torch.no_grad():  # the auxiliary part reads the pooled features: translation invariant too
        moved = view(torch.from_numpy(symmetry_group(4)[5].apply(x4[:32]).astype(np.float32)))
    torch.testing.assert_close(moved, out, atol=2e-5, rtol=0)
    net.symmetrize = True
    with torch.no_grad():
        sym = view(x)
        torch.testing.assert_close(sym[:, :k].squeeze(-1), net(x))
        torch.testing.assert_close(sym[:, k:], out[:, k:])
    with pytest.raises(ConfigError):
        AuxiliaryHead(BaseNet(width=4, depth=1), outputs=16)
    with pytest.raises(ConfigError):
        AuxiliaryHead(net, outputs=0)
    with pytest.raises(ShapeError):
        view(torch.zeros(2, 4, 3))


def test_auxiliary_loss_is_the_main_loss_plus_the_weighted_mse():
    g = torch.Generator().manual_seed(1)
    pred = torch.randn(6, 5 + 3, generator=g)
    labels = torch.tensor([0.0, 1, -1, 2, 0, -2])
    aux = torch.randn(6, 3, generator=g)
    target = torch.cat([labels[:, None], aux], 1)
    mse = torch.mean((pred[:, 5:] - aux) ** 2)
    torch.testing.assert_close(auxiliary_loss(chern_class_loss, 3, 0.5)(pred, target),
                               chern_class_loss(pred[:, :5], labels) + 0.5 * mse)
    torch.testing.assert_close(auxiliary_loss(chern_class_loss, 3, 0.0)(pred, target), chern_class_loss(pred[:, :5], labels))
    reg = torch.randn(6, 1 + 3, generator=g)  # a regression head: (batch,) to the main loss
    torch.testing.assert_close(auxiliary_loss(chern_loss, 3)(reg, target),
                               chern_loss(reg[:, 0], labels) + torch.mean((reg[:, 1:] - aux) ** 2))
    with pytest.raises(ShapeError):
        auxiliary_loss(chern_class_loss, 3)(pred, target[:, :3])
    with pytest.raises(ShapeError):
        auxiliary_loss(chern_class_loss, 3)(pred[:, :3], target)
    for bad in ({"outputs": 0}, {"outputs": True}, {"outputs": 3, "weight": -1.0}, {"outputs": 3, "weight": float("nan")}):
        with pytest.raises(ConfigError):
            auxiliary_loss(chern_class_loss, **bad)


def test_training_with_auxiliary_targets_checkpoints_and_resumes(x4, tmp_path):
    y = bott_index(x4).label
    std = StandardizedEnergies(x4)

    def train(epochs):
        torch.manual_seed(0)
        net = InvariantBaseNet(width=8, blocks=1, hidden=16)
        view = AuxiliaryHead(net, outputs=16)
        tr = Trainer(view, TrainConfig(epochs=epochs, batch_size=50, optimizer="adamw", lr=3e-3), tmp_path / "run",
                     loss=auxiliary_loss(chern_class_loss, 16, 1.0))
        tr.fit(auxiliary_targets(symmetry_augmented(tensor_batches(x4, y, 50, seed=1), seed=1), std))
        return net, tr

    net1, tr1 = train(1)
    net2, tr2 = train(2)  # resumes after epoch 0 (same hyper-parameters but epochs: a constant-rate run)
    assert [r["epoch"] for r in tr2.history] == [0, 1]
    assert tr2.history[1]["train_loss"] < tr2.history[0]["train_loss"]
    with torch.no_grad():
        logits = net2(torch.from_numpy(x4.astype(np.float32)))
    assert logits.shape == (200, len(CHERN_CLASSES))
