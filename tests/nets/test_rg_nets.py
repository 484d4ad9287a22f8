"""margalit2022 networks: shapes, size independence, periodic padding, decimation, checkpoints, trainer resume."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from topoml.errors import CheckpointError, ConfigError, ShapeError
from topoml.evaluate.metrics import accuracy
from topoml.nets.registry import count_parameters, get_net
from topoml.nets.rg import AveragesNet, BaseNet, CompoundNet, Decimation, RGNet, chern_net, decimation, rg_steps
from topoml.train.checkpoint import load_model, model_bytes
from topoml.train.trainer import TrainConfig, Trainer, chern_loss, tensor_batches


def _lattices(n, size, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).uniform(-2, 2, (n, size, size, 3)).astype(np.float32))


def test_paper_sizes():
    assert count_parameters(BaseNet()) == 4_728_065  # "about 4.7 M" (App. A)
    assert 17e6 < count_parameters(RGNet(256, 512)) < 21e6  # "about 20 M" (conventions), 9 layers + 1x1
    assert count_parameters(get_net("margalit2022.base", width=32)) == count_parameters(BaseNet(32))


@pytest.mark.parametrize("n", [8, 16, 32, 64])
def test_rg_halves_any_even_size_with_the_same_weights(n):
    torch.manual_seed(0)
    rg = RGNet(width=8, depth=3)
    y = rg(_lattices(2, n))
    assert y.shape == (2, n // 2, n // 2, 3)
    single = rg(_lattices(1, n)[0])
    assert single.shape == (1, n // 2, n // 2, 3)


@pytest.mark.parametrize("n,k", [(4, 0), (8, 1), (16, 2), (32, 3), (128, 5)])
def test_compound_accepts_every_4_2k(n, k):
    assert rg_steps(n) == k
    comp = chern_net({"width": 4, "depth": 3}, {"width": 4, "depth": 3})
    assert comp(_lattices(3, n)).shape == (3,)


@pytest.mark.parametrize("n", [2, 6, 12, 24, 20, 0])
def test_sizes_that_are_not_4_2k_are_rejected(n):
    with pytest.raises(ShapeError):
        rg_steps(n)
    comp = chern_net({"width": 4, "depth": 1}, None)
    if n:
        with pytest.raises(ShapeError):
            comp(torch.zeros(1, n, n, 3))


def test_averages_net_sees_only_the_averages():
    net = get_net("margalit2022.averages", width=16, depth=2)
    x = _lattices(5, 4)
    shuffled = x.reshape(5, 16, 3)[:, torch.randperm(16)].reshape(5, 4, 4, 3)
    flat = x.mean(dim=(1, 2), keepdim=True).expand(5, 8, 8, 3)  # same averages, no disorder, other size
    y = net(x)
    assert y.shape == (5,) and y.dtype == torch.float32
    torch.testing.assert_close(net(shuffled), y)
    torch.testing.assert_close(net(flat), y)
    assert not torch.allclose(net(x + 0.5), y)
    with pytest.raises(ConfigError):
        AveragesNet(16, depth=0)
    with pytest.raises(ShapeError):
        net(torch.zeros(2, 4, 4, 2))


def test_bad_shapes_and_options():
    with pytest.raises(ShapeError):
        BaseNet(4, 1)(torch.zeros(2, 4, 5, 3))
    with pytest.raises(ShapeError):
        BaseNet(4, 1)(torch.zeros(2, 4, 4, 2))
    with pytest.raises(ShapeError):
        RGNet(4, depth=1)(torch.zeros(1, 9, 9, 3))
    with pytest.raises(ConfigError):
        BaseNet(4, depth=4)
    with pytest.raises(ConfigError):
        BaseNet(4, padding="reflect")
    with pytest.raises(ConfigError):
        get_net("margalit2022.rg", widht=3)


def test_periodic_padding_is_the_wrap_around():
    torch.manual_seed(1)
    rg = RGNet(width=6, depth=3)
    x = _lattices(2, 8, seed=3)
    # explicit wrap-around + unpadded convolution equals the first layer of the network
    conv = rg.first.conv
    xc = x.permute(0, 3, 1, 2)
    wrapped = F.pad(xc, (1, 1, 1, 1), mode="circular")
    assert torch.allclose(rg.first(xc), F.conv2d(wrapped, conv.weight, conv.bias, stride=2), atol=1e-6)
    # the index-gather padding gives the numbers of torch's own circular padding mode
    ref = torch.nn.Conv2d(3, 6, 3, stride=2, padding=1, padding_mode="circular")
    ref.load_state_dict(conv.state_dict())
    assert torch.equal(rg.first(xc), ref(xc))
    manual = torch.cat([xc[..., -1:, :], xc, xc[..., :1, :]], dim=-2)
    manual = torch.cat([manual[..., -1:], manual, manual[..., :1]], dim=-1)
    assert torch.equal(wrapped, manual)
    # consequence: translating the lattice by 2 sites translates the output by 1 site
    y = rg(x)
    y_shift = rg(torch.roll(x, shifts=(2, -2), dims=(1, 2)))
    assert torch.allclose(y_shift, torch.roll(y, shifts=(1, -1), dims=(1, 2)), atol=1e-5)


@pytest.mark.parametrize("n", [4, 6, 16, 18, 32])
def test_periodic_padding_routes_equal_circular_mode_with_gradients(n):
    # up to 16x16 (256 sites) the padding is a 0/1 matrix product, above an index gather: both must give
    # torch's circular padding mode exactly, forward and backward
    from topoml.nets.rg import _PAD_MATMUL_MAX_SITES, _Conv

    assert (n * n <= _PAD_MATMUL_MAX_SITES) == (n <= 16)
    torch.manual_seed(n)
    ours = _Conv(5, 4, "periodic")
    ref = torch.nn.Conv2d(5, 4, 3, padding=1, padding_mode="circular")
    ref.load_state_dict(ours.conv.state_dict())
    xa = torch.randn(3, 5, n, n, requires_grad=True)
    xb = xa.detach().clone().requires_grad_(True)
    ya, yb = ours(xa), ref(xb)
    assert torch.equal(ya, yb)
    g = torch.randn_like(ya)
    (ya * g).sum().backward()
    (yb * g).sum().backward()
    assert torch.allclose(xa.grad, xb.grad, atol=1e-5)
    assert torch.allclose(ours.conv.weight.grad, ref.weight.grad, rtol=1e-4, atol=1e-4)


def test_zero_padding_base_is_not_translation_invariant_but_periodic_is():
    torch.manual_seed(2)
    x = _lattices(4, 4, seed=5)
    xs = torch.roll(x, 1, dims=1)
    per = BaseNet(8, 3, padding="periodic")
    assert torch.allclose(per(x), per(xs), atol=1e-5)
    zero = BaseNet(8, 3, padding="zero")
    assert not torch.allclose(zero(x), zero(xs), atol=1e-5)


def test_decimation_is_the_block_average():
    x = _lattices(3, 8, seed=4)
    d = decimation(x).numpy()
    xn = x.numpy()
    manual = xn.reshape(3, 4, 2, 4, 2, 3).mean(axis=(2, 4))
    assert np.allclose(d, manual, atol=1e-6)
    assert torch.equal(Decimation()(x), decimation(x))
    with pytest.raises(ShapeError):
        decimation(torch.zeros(1, 5, 5, 3))


def test_decimation_initialized_rg_is_close_to_average_pooling(tmp_path):
    """The pre-training of App. B 1 (inputs uniform in [-5, 5]) brings the RG map close to 2x2 pooling,
    at the training size and at a size it never saw."""
    torch.manual_seed(0)
    rg = RGNet(width=16, depth=3)
    gen = torch.Generator().manual_seed(0)

    def batches(epoch):
        for _ in range(250):
            x = (torch.rand(64, 8, 8, 3, generator=gen) * 2 - 1) * 5
            yield x, decimation(x)

    held = (torch.rand(256, 16, 16, 3, generator=torch.Generator().manual_seed(9)) * 2 - 1) * 5
    with torch.no_grad():
        before = torch.sqrt(torch.mean((rg(held) - decimation(held)) ** 2)).item()
    Trainer(rg, TrainConfig(epochs=2, batch_size=64, optimizer="adam", lr=3e-3, schedule="cosine"),
            tmp_path).fit(batches, steps_per_epoch=250)
    with torch.no_grad():
        after = torch.sqrt(torch.mean((rg(held) - decimation(held)) ** 2)).item()
    target_scale = decimation(held).std().item()  # ≈ 5/sqrt(3)/2 ≈ 1.44
    assert after < 0.15 * target_scale and before > 0.5 * target_scale


@pytest.mark.parametrize("skip", ["decimation", "averages"])
def test_rg_on_top_of_decimation(skip, tmp_path):
    """skip != "none": an untrained RG network is decimation exactly; with "averages" every step keeps the
    lattice averages of each channel after training too (the correction has zero lattice mean)."""
    torch.manual_seed(1)
    rg = RGNet(width=8, depth=3, skip=skip)
    x = _lattices(6, 16, seed=2)
    assert torch.equal(rg(x), decimation(x))
    opt = torch.optim.SGD(rg.parameters(), lr=0.1)
    for _ in range(3):  # move the correction away from zero
        opt.zero_grad()
        (rg(x) ** 3).mean().backward()
        opt.step()
    y = rg(x).detach()
    assert not torch.allclose(y, decimation(x), atol=1e-3)
    same_means = torch.allclose(y.mean(dim=(1, 2)), x.mean(dim=(1, 2)), atol=1e-5)
    assert same_means == (skip == "averages")
    comp = CompoundNet(BaseNet(width=8, depth=3), rg)
    assert torch.allclose(comp.coarse_grain(x).mean(dim=(1, 2)), x.mean(dim=(1, 2)), atol=1e-5) == (skip == "averages")
    spec = {"base": {"width": 8, "depth": 3}, "rg": rg.config}
    assert rg.config["skip"] == skip and "skip" not in RGNet(width=8, depth=3).config
    (tmp_path / "m.safetensors").write_bytes(model_bytes(comp, "margalit2022.chern", spec, {}))
    comp.eval()
    assert torch.equal(load_model(tmp_path / "m.safetensors")[0](x), comp(x))
    with pytest.raises(ConfigError, match="skip"):
        RGNet(width=8, depth=3, skip="mean")


def test_saved_model_reloads_bit_identically(tmp_path):
    torch.manual_seed(3)
    spec = {"base": {"width": 8, "depth": 3}, "rg": {"width": 8, "depth": 3, "padding": "periodic"}}
    net = chern_net(**spec)
    path = tmp_path / "m.safetensors"
    path.write_bytes(model_bytes(net, "margalit2022.chern", spec, {"accuracy": {"8": 0.5}}))
    net2, meta = load_model(path)
    x = _lattices(5, 16)
    net.eval()
    assert torch.equal(net(x), net2(x))
    assert meta["accuracy"] == {"8": 0.5} and meta["net"]["name"] == "margalit2022.chern"


def test_weights_load_without_unpickling(tmp_path):
    import pickle

    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError):
        load_model(evil)
    plain = tmp_path / "plain.safetensors"
    from topoml.train.checkpoint import state_bytes

    plain.write_bytes(state_bytes(BaseNet(4, 1)))  # weights without a network description
    with pytest.raises(CheckpointError, match="bare network weights without a network description"):
        load_model(plain)
    with pytest.raises(CheckpointError, match="not found|cannot read"):
        load_model(tmp_path / "missing.safetensors")
    wrong = tmp_path / "wrong.safetensors"
    wrong.write_bytes(model_bytes(BaseNet(4, 1), "margalit2022.base", {"width": 8, "depth": 1}))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(wrong)


def test_chern_loss_and_accuracy():
    p = torch.tensor([0.5, -1.0, 2.0])
    t = torch.tensor([0.0, -1.0, 1.0])
    assert chern_loss(p, t).item() == pytest.approx(((0.5 + 0.25) + 0 + (1 + 1)) / 3)
    q = torch.zeros(2, 4, 4, 3) + 0.1
    assert chern_loss(q, torch.zeros_like(q)).item() == pytest.approx(48 * 0.11, rel=1e-5)  # summed over sites/channels
    assert accuracy(np.array([0.4, 0.6, -1.4]), np.array([0, 1, -1])) == 1.0
    with pytest.raises(ShapeError):
        accuracy(np.zeros(2), np.zeros(3))


def _toy(tmp, epochs, seed=0):
    torch.manual_seed(seed)
    net = BaseNet(4, 3)
    x = _lattices(200, 4, seed=1)
    y = torch.sign(x[..., 0].mean(dim=(1, 2)))
    tr = Trainer(net, TrainConfig(epochs=epochs, batch_size=32, lr=0.01), tmp,
                 evaluate=lambda n: {"acc": accuracy(n(x).detach().numpy(), y.numpy())}, select="acc")
    tr.fit(tensor_batches(x, y, 32, seed=5))
    return net, tr


def test_trainer_resume_is_identical_to_an_uninterrupted_run(tmp_path):
    full, tr_full = _toy(tmp_path / "a", 3)
    _toy(tmp_path / "b", 1)  # "killed" after one epoch ...
    resumed, tr_res = _toy(tmp_path / "b", 3)  # ... and rerun (a constant-rate run may be extended)
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), k
    hist = json.loads((tmp_path / "b" / "history.json").read_text())
    assert [r["epoch"] for r in hist["epochs"]] == [0, 1, 2]
    assert (tmp_path / "b" / "best.safetensors").is_file()
    assert sorted(p.name for p in (tmp_path / "b").glob("epoch-*.safetensors")) == [
        "epoch-0000.safetensors", "epoch-0001.safetensors", "epoch-0002.safetensors"]


def test_trainer_refuses_other_hyperparameters_in_the_same_folder(tmp_path):
    _toy(tmp_path, 1)
    net = BaseNet(4, 3)
    with pytest.raises(CheckpointError, match="other hyper-parameters"):
        Trainer(net, TrainConfig(epochs=1, batch_size=32, lr=0.02), tmp_path).fit(
            tensor_batches(_lattices(10, 4), torch.zeros(10), 32))


def test_compound_trains_only_the_rg_network(tmp_path):
    torch.manual_seed(0)
    comp = CompoundNet(BaseNet(4, 3), RGNet(4, depth=3))
    _train_and_check_only_it_changed(comp, comp.rg, tmp_path)


def _train_and_check_only_it_changed(comp, trained, folder):
    """One epoch on 64 8x8 lattices: the base's state is unchanged, ``trained``'s parameters moved."""
    base_before = {k: v.clone() for k, v in comp.base.state_dict().items()}
    before = [p.clone() for p in trained.parameters()]
    tr = Trainer(comp, TrainConfig(epochs=1, batch_size=16, lr=0.05), folder)
    tr.fit(tensor_batches(_lattices(64, 8), torch.ones(64), 16))
    for k, v in comp.base.state_dict().items():
        assert torch.equal(v, base_before[k])
    assert any(not torch.equal(a, b) for a, b in zip(before, trained.parameters()))


def test_a_size_net_answers_its_size_only_and_round_trips(tmp_path):
    """CompoundNet(size_nets={8: net}): 8x8 lattices go to their own network (no RG step, not the coarse base);
    4x4, 16x16 and 32x32 lattices take exactly the routes they took without it; symmetrized predictions average
    over the point group through it too; saved and reloaded through chern_net(size_nets=[8]) bit-identically;
    training on 8x8 lattices moves that network only; bad sizes are refused."""
    import copy

    from topoml.nets.rg import InvariantBaseNet, point_group_average
    from topoml.train.trainer import chern_class_loss

    torch.manual_seed(0)
    base = InvariantBaseNet(width=8, blocks=1, hidden=8, head="classes")
    plain = CompoundNet(base, RGNet(4, depth=3), coarse_base=copy.deepcopy(base), coarse_size=8)
    own = InvariantBaseNet(width=8, blocks=1, hidden=8, head="classes")  # other weights than the coarse base
    comp = CompoundNet(plain.base, plain.rg, coarse_base=plain.coarse_base, coarse_size=8, size_nets={8: own})
    assert all(p.requires_grad for p in own.parameters())
    comp.eval()
    plain.eval()
    x4, x8, x16, x32 = _lattices(4, 4), _lattices(4, 8), _lattices(4, 16), _lattices(2, 32)
    with torch.no_grad():
        assert torch.equal(comp(x8), own(x8))
        assert not torch.allclose(comp(x8), plain(x8))
        for x in (x4, x16, x32):
            assert torch.equal(comp(x), plain(x))
        comp.symmetrize = True
        assert torch.allclose(comp(x8), point_group_average(own, x8))
        comp.symmetrize = False
    spec = {"base": {"width": 8, "blocks": 1, "hidden": 8, "head": "classes"}, "rg": {"width": 4, "depth": 3},
            "base_kind": "invariant", "coarse_base": True, "coarse_size": 8, "size_nets": [8]}
    path = tmp_path / "s8.safetensors"
    path.write_bytes(model_bytes(comp, "margalit2022.chern", spec, {}))
    again, _ = load_model(path)
    assert list(again.size_nets) == ["8"]
    with torch.no_grad():
        for x in (x4, x8, x16, x32):
            assert torch.equal(again(x), comp(x))
    for bad in (4, 6, 2, 0, True, 8.5):
        with pytest.raises(ConfigError, match="size_nets"):
            CompoundNet(base, RGNet(4, depth=3), size_nets={bad: copy.deepcopy(own)})
    with pytest.raises(ConfigError, match="size_nets"):
        chern_net(size_nets=8)
    coarse_before = [p.clone() for p in comp.coarse_base.parameters()]
    rg_before = [p.clone() for p in comp.rg.parameters()]
    comp.train()
    tr = Trainer(comp, TrainConfig(epochs=1, batch_size=16, lr=0.05), tmp_path / "t", loss=chern_class_loss)
    before = [p.clone() for p in own.parameters()]
    tr.fit(tensor_batches(_lattices(64, 8), torch.ones(64, dtype=torch.long), 16))
    assert any(not torch.equal(a, b) for a, b in zip(before, own.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(coarse_before, comp.coarse_base.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(rg_before, comp.rg.parameters()))


def test_a_coarse_base_answers_coarse_lattices_and_trains_with_the_rg_network(tmp_path):
    """CompoundNet(coarse_base=...): the base answers 4x4 lattices, the coarse base the coarse-grained ones;
    training the compound changes the RG network and the coarse base, never the base; saved and reloaded
    through chern_net(coarse_base=True) bit-identically."""
    import copy

    torch.manual_seed(0)
    base = BaseNet(4, 3)
    comp = CompoundNet(base, RGNet(4, depth=3), coarse_base=copy.deepcopy(base))
    assert all(not p.requires_grad for p in comp.base.parameters())
    assert all(p.requires_grad for p in comp.coarse_base.parameters())  # the copy of a frozen base is trainable
    _train_and_check_only_it_changed(comp, comp.coarse_base, tmp_path)
    x4, x8 = _lattices(8, 4), _lattices(64, 8)
    comp.eval()
    with torch.no_grad():
        assert torch.equal(comp(x4), comp.base(x4))
        assert torch.equal(comp(x8), comp.coarse_base(comp.coarse_grain(x8)))
        assert not torch.equal(comp(x8), comp.base(comp.coarse_grain(x8)))
    spec = {"base": {"width": 4, "depth": 3}, "rg": {"width": 4, "depth": 3}, "coarse_base": True}
    path = tmp_path / "m.safetensors"
    path.write_bytes(model_bytes(comp, "margalit2022.chern", spec, {}))
    again, _ = load_model(path)
    assert again.coarse_base is not None
    with torch.no_grad():
        assert torch.equal(again(x8), comp(x8)) and torch.equal(again(x4), comp(x4))
    assert chern_net(**{**spec, "coarse_base": False}).coarse_base is None


def test_a_coarse_base_of_coarse_size_8_reads_8x8_lattices_directly(tmp_path):
    """CompoundNet(coarse_size=8): 4x4 lattices go to the base, 8x8 ones to the coarse base with no RG step,
    16x16 and 32x32 ones to the coarse base after RG^1 and RG^2; saved and reloaded through
    chern_net(coarse_size=8) bit-identically; a bad coarse_size, or one without a coarse base, is refused."""
    import copy

    from topoml.nets.rg import InvariantBaseNet

    torch.manual_seed(0)
    base = InvariantBaseNet(width=8, blocks=1, hidden=8, head="regression")
    comp = CompoundNet(base, RGNet(4, depth=3), coarse_base=copy.deepcopy(base), coarse_size=8)
    comp.eval()
    x4, x8, x16, x32 = _lattices(4, 4), _lattices(4, 8), _lattices(4, 16), _lattices(2, 32)
    with torch.no_grad():
        assert torch.equal(comp(x4), comp.base(x4))
        assert torch.equal(comp(x8), comp.coarse_base(x8))
        assert torch.equal(comp(x16), comp.coarse_base(comp.rg(x16)))
        assert torch.equal(comp(x32), comp.coarse_base(comp.rg(comp.rg(x32))))
        assert not torch.equal(comp(x8), comp.coarse_base(comp.rg(x8)))
    spec = {"base": {"width": 8, "blocks": 1, "hidden": 8, "head": "regression"}, "rg": {"width": 4, "depth": 3}, "base_kind": "invariant",
            "coarse_base": True, "coarse_size": 8}
    path = tmp_path / "m8.safetensors"
    path.write_bytes(model_bytes(comp, "margalit2022.chern", spec, {}))
    again, _ = load_model(path)
    assert again.coarse_size == 8
    with torch.no_grad():
        for x in (x4, x8, x16):
            assert torch.equal(again(x), comp(x))
    for bad in (6, 2, 12, 0, "8"):
        with pytest.raises(ConfigError, match="coarse_size"):
            CompoundNet(base, RGNet(4, depth=3), coarse_base=copy.deepcopy(base), coarse_size=bad)
    with pytest.raises(ConfigError, match="coarse_base"):
        CompoundNet(base, RGNet(4, depth=3), coarse_size=8)
    assert CompoundNet(base, RGNet(4, depth=3)).coarse_size == 4
    # training on 8x8 lattices moves the coarse base only (the RG network is not on the path)
    rg_before = [p.clone() for p in comp.rg.parameters()]
    _train_and_check_only_it_changed(comp, comp.coarse_base, tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(rg_before, comp.rg.parameters()))


def test_train_config_validation():
    for bad in ({"epochs": 0}, {"epochs": 1, "lr": -1}, {"epochs": 1, "optimizer": "lbfgs"},
                {"epochs": 1, "momentum": 1.0}, {"epochs": 1, "schedule": "step"},
                {"epochs": 1, "precision": "float16"}):
        with pytest.raises(ConfigError):
            TrainConfig(**bad)


def test_read_model_metadata_reads_the_header_and_refuses_other_files(tmp_path):
    from topoml.evaluate.predict import packaged_weights
    from topoml.errors import CheckpointError
    from topoml.train.checkpoint import load_model, read_model_metadata

    meta = read_model_metadata(packaged_weights())
    assert meta == load_model(packaged_weights())[1] and "accuracy" in meta
    (tmp_path / "x.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{}xyz")
    for bad in (tmp_path / "x.safetensors", tmp_path / "missing.safetensors"):
        with pytest.raises(CheckpointError):
            read_model_metadata(bad)
