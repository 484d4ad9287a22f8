"""zhang2018 networks: parameter counts, shapes, the CNN equals a 2×2 convolution, training, weights I/O."""

import numpy as np
import pytest
import torch

from topoml.data import winding_sets as ws
from topoml.errors import CheckpointError, ConfigError, ShapeError
from topoml.nets import count_parameters, get_net
from topoml.train.checkpoint import load_state_bytes, load_weights, state_bytes
from topoml.train.trainer import TrainConfig, fit_arrays, l2_penalty, predict


def test_parameter_counts_match_paper():
    assert count_parameters(get_net("zhang2018.fc")) == 4061
    assert count_parameters(get_net("zhang2018.cnn")) == 310


def test_shapes_and_init():
    x = torch.randn(7, 33, 2)
    for name in ("zhang2018.fc", "zhang2018.cnn", "zhang2018.linear"):
        net = get_net(name)
        assert net(x).shape == (7,)
        for n, p in net.named_parameters():
            if n.endswith("bias"):
                assert torch.all(p == 0)
    assert get_net("zhang2018.cnn").local_features(x).shape == (7, 32)


def test_cnn_is_a_2x2_convolution():
    torch.manual_seed(0)
    net = get_net("zhang2018.cnn")
    x = torch.randn(5, 33, 2)
    conv = torch.nn.Conv2d(1, 40, (2, 2))
    with torch.no_grad():
        conv.weight.copy_(net.conv.weight.view(40, 1, 2, 2))
        conv.bias.copy_(net.conv.bias)
        b = torch.relu(conv(x.unsqueeze(1))).squeeze(-1)  # (5, 40, 32)
        d = torch.relu(torch.einsum("bcn,c->bn", b, net.mix.weight[0]) + net.mix.bias)
        assert torch.allclose(d, net.local_features(x), atol=1e-6)


def test_registry_errors():
    with pytest.raises(ConfigError, match="unknown network"):
        get_net("nope")
    with pytest.raises(ConfigError, match="bad arguments"):
        get_net("zhang2018.cnn", bogus=1)


def test_training_reduces_loss_and_is_seeded():
    from topoml.evaluate.metrics import accuracy

    data = ws.fourier_set(1000, rng=0)
    cfg = TrainConfig(epochs=2, batch_size=50, optimizer="adam", lr=1e-3, seed=3, fused=True)
    torch.manual_seed(1)
    a = get_net("zhang2018.fc")
    ha = fit_arrays(a, data.x, data.w, cfg, validation=(data.x, data.w))
    torch.manual_seed(1)
    b = get_net("zhang2018.fc")
    hb = fit_arrays(b, data.x, data.w, cfg)
    assert ha["train_loss"] == hb["train_loss"]  # same seed, same run (validation changes nothing)
    assert ha["train_loss"][-1] < ha["train_loss"][0]
    # the last validation record is the trained network's accuracy on the validation set
    assert len(ha["val_accuracy"]) == 2 and ha["val_accuracy"][-1] == accuracy(predict(a, data.x), data.w)
    assert np.array_equal(predict(a, data.x), predict(b, data.x))


def test_l2_penalty_counts_weights_only():
    net = get_net("zhang2018.linear")
    with torch.no_grad():
        net.linear.weight.fill_(1.0)
        net.linear.bias.fill_(5.0)
    assert l2_penalty(net).item() == pytest.approx(66.0)


def test_fit_bad_input():
    net = get_net("zhang2018.cnn")
    with pytest.raises(ShapeError):
        fit_arrays(net, np.zeros((10, 33, 2)), np.zeros(9), TrainConfig(epochs=1))
    with pytest.raises(ShapeError, match="do not match targets"):
        fit_arrays(net, np.zeros((10, 33, 2)), np.zeros((10, 2)), TrainConfig(epochs=1, batch_size=5))
    with pytest.raises(ConfigError):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError):
        TrainConfig(epochs=1, schedule="weird")
    with pytest.raises(ConfigError):
        TrainConfig(epochs=1, l2=-1.0)
    with pytest.raises(ConfigError):
        TrainConfig(epochs=1, optimizer="sgd", fused=True)


def test_weights_roundtrip_bit_identical(tmp_path):
    torch.manual_seed(0)
    net = get_net("zhang2018.cnn")
    data = state_bytes(net)
    p = tmp_path / "w.safetensors"
    p.write_bytes(data)
    other = load_weights(get_net("zhang2018.cnn"), p)
    x = torch.randn(20, 33, 2)
    assert torch.equal(net(x), other(x))
    with pytest.raises(CheckpointError):
        load_state_bytes(get_net("zhang2018.fc"), data)
    with pytest.raises(CheckpointError):
        load_state_bytes(get_net("zhang2018.cnn"), data[:50])
    with pytest.raises(CheckpointError):
        load_weights(get_net("zhang2018.cnn"), tmp_path / "missing.safetensors")
