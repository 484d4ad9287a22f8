"""The one trainer (topoml.train.trainer): the in-memory regression of zhang2018/oriekhov2025 keeps the order,
optimizer kernel and penalty of their published runs; batch sources resume; in-memory selection; old folders."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from topoml.errors import ShapeError
from topoml.nets import get_net
from topoml.train.trainer import TrainConfig, Trainer, curves, fit_arrays, mse_loss, tensor_batches


def _data(n=96, seed=0):
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, 9, 2)).astype(np.float32)
    return x, g.integers(-2, 3, size=n)


def _reference_run(net, x, y, *, epochs, batch_size, lr, l2, seed):
    """The zhang2018/oriekhov2025 training loop as it was published (before the trainers were merged):
    one generator seeded by ``seed`` draws each epoch's permutation, fused Adam, cosine schedule per step,
    MSE recorded before the L2 penalty is added."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    opt = torch.optim.Adam(net.parameters(), lr=lr, fused=True)
    n = len(yt)
    total = math.ceil(n / batch_size) * epochs
    gen = torch.Generator().manual_seed(seed)
    losses, step = [], 0
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(n, generator=gen)
        running = 0.0
        for i in range(0, n, batch_size):
            for g in opt.param_groups:
                g["lr"] = 0.5 * lr * (1 + math.cos(math.pi * step / total))
            idx = perm[i : i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = torch.mean((net(xt[idx]) - yt[idx]) ** 2)
            running += loss.item() * len(idx)
            loss = loss + l2 * sum((p.pow(2).sum() for p in net.parameters() if p.dim() >= 2), torch.zeros(()))
            loss.backward()
            opt.step()
            step += 1
        losses.append(running / n)
    return losses


def test_chained_fused_regression_reproduces_the_published_loop():
    x, y = _data()
    torch.manual_seed(4)
    ref = get_net("zhang2018.cnn", L=8)
    ref_losses = _reference_run(ref, x, y, epochs=3, batch_size=20, lr=3e-3, l2=0.01, seed=11)
    torch.manual_seed(4)
    net = get_net("zhang2018.cnn", L=8)
    cfg = TrainConfig(epochs=3, batch_size=20, optimizer="adam", lr=3e-3, l2=0.01, schedule="cosine", seed=11,
                      fused=True)
    hist = fit_arrays(net, x, y, cfg, shuffle="chained")
    assert hist["train_loss"] == ref_losses
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), ref.state_dict().values()))
    # the other order or the unfused kernel gives another run
    for other in ({"shuffle": "seeded"}, {"cfg": TrainConfig(**{**cfg.__dict__, "fused": False})}):
        torch.manual_seed(4)
        n2 = get_net("zhang2018.cnn", L=8)
        fit_arrays(n2, x, y, other.get("cfg", cfg), shuffle=other.get("shuffle", "chained"))
        assert not all(torch.equal(a, b) for a, b in zip(n2.state_dict().values(), ref.state_dict().values()))


@pytest.mark.parametrize("shuffle", ["seeded", "chained"])
@pytest.mark.parametrize("per_epoch", [None, 40])
def test_batch_order_is_a_function_of_seed_and_epoch(shuffle, per_epoch):
    x, y = _data(50)
    order = [torch.cat([b[1] for b in tensor_batches(x, y, 7, 3, per_epoch, shuffle=shuffle)(e)]) for e in range(4)]
    for e in (3, 1, 2, 0):  # a fresh source asked for epoch e alone (a resumed run) gives the same batches
        assert torch.equal(torch.cat([b[1] for b in tensor_batches(x, y, 7, 3, per_epoch, shuffle=shuffle)(e)]),
                           order[e])
    assert not torch.equal(order[0], order[1])
    if per_epoch is None:  # every epoch is one pass over all samples
        assert all(sorted(o.tolist()) == sorted(y.astype(np.float32).tolist()) for o in order)


def test_in_memory_trainer_selects_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = _data()
    torch.manual_seed(0)
    net = get_net("zhang2018.cnn", L=8)
    scores = iter([0.2, 0.9, 0.5])
    weights = []

    def evaluate(n):
        weights.append({k: v.clone() for k, v in n.state_dict().items()})
        return {"score": next(scores)}

    tr = Trainer(net, TrainConfig(epochs=3, batch_size=16, optimizer="adam", lr=1e-2), loss=mse_loss,
                 evaluate=evaluate, select="score")
    tr.fit(tensor_batches(x, y, 16))
    assert list(tmp_path.iterdir()) == []
    assert tr.load_best() == 1
    assert all(torch.equal(v, weights[1][k]) for k, v in net.state_dict().items())
    c = curves(tr.history)
    assert c["score"] == [0.2, 0.9, 0.5] and len(c["train_loss"]) == 3 and c["samples_per_second"] > 0


def test_train_loss_excludes_the_l2_penalty():
    x, y = _data(20)
    runs = []
    for l2 in (0.0, 1.0):
        torch.manual_seed(0)
        net = get_net("zhang2018.cnn", L=8)
        h = fit_arrays(net, x, y, TrainConfig(epochs=2, batch_size=20, optimizer="adam", lr=1e-2, l2=l2))
        runs.append((h["train_loss"], torch.cat([p.flatten() for p in net.parameters()])))
    (a, wa), (b, wb) = runs
    assert a[0] == b[0]  # one batch per epoch: epoch 0's loss is taken before any step
    assert a[1] != b[1] and not torch.equal(wa, wb)  # the penalty changed the step


def test_folder_from_before_l2_and_fused_resumes(tmp_path):
    x, y = _data()
    cfg = TrainConfig(epochs=1, batch_size=32, optimizer="adam", lr=1e-3)
    torch.manual_seed(0)
    fit_arrays(get_net("zhang2018.cnn", L=8), x, y, cfg, folder=tmp_path)
    hist = json.loads((tmp_path / "history.json").read_text())
    for k in ("l2", "fused", "precision"):
        del hist["train_config"][k]
    (tmp_path / "history.json").write_text(json.dumps(hist))
    torch.manual_seed(0)
    net = get_net("zhang2018.cnn", L=8)
    tr = Trainer(net, TrainConfig(**{**cfg.__dict__, "epochs": 2}), tmp_path, loss=mse_loss)
    tr.fit(tensor_batches(x, y, 32))
    assert [r["epoch"] for r in tr.history] == [0, 1]


def test_bfloat16_training_keeps_float32_weights_learns_and_is_a_hyperparameter(tmp_path):
    # precision="bfloat16": forward under autocast, float32 parameters, optimizer state and loss
    from topoml.errors import CheckpointError
    from topoml.nets.rg import InvariantBaseNet
    from topoml.train.trainer import chern_class_loss

    g = np.random.default_rng(3)
    x = g.normal(size=(256, 4, 4, 3)).astype(np.float32)
    y = np.sign(x[..., 0].mean(axis=(1, 2))).astype(np.int64)  # a function of the lattice: sign of mean mu
    losses = {}
    for prec in ("float32", "bfloat16"):
        torch.manual_seed(0)
        net = InvariantBaseNet(width=8, blocks=1, hidden=8)
        tr = Trainer(net, TrainConfig(epochs=6, batch_size=32, optimizer="adam", lr=3e-3, precision=prec),
                     tmp_path / prec, loss=chern_class_loss)
        tr.fit(tensor_batches(x, y, 32, seed=1))
        assert all(p.dtype == torch.float32 for p in net.parameters())
        losses[prec] = [r["train_loss"] for r in tr.history]
        assert losses[prec][-1] < 0.7 * losses[prec][0]
        assert np.isfinite(losses[prec]).all()
    assert losses["float32"] != losses["bfloat16"]  # the forward pass really ran in bfloat16
    assert losses["bfloat16"][-1] == pytest.approx(losses["float32"][-1], rel=0.3)
    with pytest.raises(CheckpointError, match="other hyper-parameters"):
        Trainer(InvariantBaseNet(width=8, blocks=1, hidden=8), TrainConfig(
            epochs=6, batch_size=32, optimizer="adam", lr=3e-3), tmp_path / "bfloat16").fit(
            tensor_batches(x, y, 32, seed=1))


def test_mse_loss_refuses_mismatched_targets():
    with pytest.raises(ShapeError, match="do not match targets"):
        mse_loss(torch.zeros(4), torch.zeros(4, 1))


def test_chern_expected_loss_is_the_paper_loss_on_the_expected_chern_number():
    from topoml.nets.rg import CHERN_CLASSES
    from topoml.train.trainer import chern_expected_loss, chern_loss

    target = torch.tensor([0.0, 1.0, -1.0, 2.0])
    sure = torch.full((4, len(CHERN_CLASSES)), -30.0)
    sure[:, CHERN_CLASSES.index(1)] = 30.0  # certain of C = +1 for every lattice
    d = 1.0 - target
    assert float(chern_expected_loss(sure, target)) == pytest.approx(float((d.abs() + d * d).mean()), rel=1e-6)
    logits = torch.randn(64, len(CHERN_CLASSES), generator=torch.Generator().manual_seed(0))
    y = torch.randint(-2, 3, (64,), generator=torch.Generator().manual_seed(1)).float()
    expected = torch.softmax(logits, 1) @ torch.tensor(CHERN_CLASSES, dtype=torch.float32)
    assert float(chern_expected_loss(logits, y)) == pytest.approx(float(chern_loss(expected, y)), rel=1e-6)
    # bounded gradient where cross-entropy's grows: a confident wrong class
    wrong = (sure * 10).requires_grad_()
    chern_expected_loss(wrong, target).backward()
    assert torch.isfinite(wrong.grad).all() and float(wrong.grad.abs().max()) < 1e-6
    with pytest.raises(ShapeError):
        chern_expected_loss(torch.zeros(4, 3), target)
    with pytest.raises(ShapeError):
        chern_expected_loss(sure, target[:3])


def test_interleaved_alternates_sources_and_replays_each_epoch():
    """interleaved(a, b): a₀ b₀ a₁ b₁ …, the shortest source ends the epoch, the same batches on a replay of the
    epoch (resume), n_samples for the schedule; no source is refused."""
    from topoml.errors import ConfigError
    from topoml.train.trainer import interleaved

    xa, xb = torch.zeros(10, 4, 4, 3), torch.ones(6, 8, 8, 3)
    a = tensor_batches(xa, torch.arange(10.0), 2, seed=1)
    b = tensor_batches(xb, 100 + torch.arange(6.0), 2, seed=2)
    src = interleaved(a, b)
    got = list(src(0))
    assert [x.shape[1] for x, _ in got] == [4, 8] * 3  # b has 3 batches: the epoch ends there
    assert torch.equal(torch.cat([y for _, y in got[1::2]]).sort().values, 100 + torch.arange(6.0))
    again = list(src(0))
    assert all(torch.equal(y1, y2) for (_, y1), (_, y2) in zip(got, again))
    assert not all(torch.equal(y1, y2) for (_, y1), (_, y2) in zip(got, list(src(1))))
    assert src.n_samples == 12
    with pytest.raises(ConfigError):
        interleaved()


def test_auto_precision_is_bfloat16_exactly_where_the_device_runs_it_natively(monkeypatch, tmp_path):
    # "auto" resolves per device; a CPU without AMX/AVX-512-BF16 trains in float32 (emulated bfloat16 is 20-50x
    # slower); the precision used is in every epoch record
    import topoml.train.trainer as trainer_mod
    from topoml.errors import ConfigError
    from topoml.nets.rg import InvariantBaseNet
    from topoml.train import native_bfloat16, resolve_precision
    from topoml.train.trainer import chern_class_loss

    assert resolve_precision("float32") == "float32" and resolve_precision("bfloat16") == "bfloat16"
    assert resolve_precision("auto") == ("bfloat16" if native_bfloat16("cpu") else "float32")
    assert native_bfloat16("meta") is False
    with pytest.raises(ConfigError, match="precision"):
        resolve_precision("float16")
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(epochs=1, precision="half")
    x = np.random.default_rng(0).normal(size=(64, 4, 4, 3)).astype(np.float32)
    y = np.sign(x[..., 0].mean(axis=(1, 2))).astype(np.int64)
    for native, expected in ((True, "bfloat16"), (False, "float32")):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
        assert trainer_mod.native_bfloat16("cpu") is native
        torch.manual_seed(0)
        tr = Trainer(InvariantBaseNet(width=8, blocks=1, hidden=8),
                     TrainConfig(epochs=1, batch_size=32, optimizer="adam", lr=1e-3, precision="auto"),
                     tmp_path / expected, loss=chern_class_loss)
        assert tr.precision == expected
        tr.fit(tensor_batches(x, y, 32))
        assert tr.history[0]["precision"] == expected
    # the same weights and batches give bit-identical losses in float32 and under "auto" on a CPU without bfloat16
    torch.manual_seed(0)
    ref = Trainer(InvariantBaseNet(width=8, blocks=1, hidden=8),
                  TrainConfig(epochs=1, batch_size=32, optimizer="adam", lr=1e-3), loss=chern_class_loss)
    ref.fit(tensor_batches(x, y, 32))
    assert ref.history[0]["train_loss"] == tr.history[0]["train_loss"]
