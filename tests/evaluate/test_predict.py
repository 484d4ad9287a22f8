"""Lattices → Chern numbers (topoml.evaluate.predict), the one accuracy, and the one lattice rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from topoml.errors import InputError, ShapeError
from topoml.evaluate.metrics import accuracy
from topoml.evaluate.predict import check_lattices, load_chern_model, load_lattices, predict_chern
from topoml.hamiltonians.pip import check_lattice, check_lattice_shape, clean_lattice
from topoml.nets.rg import CHERN_CLASSES, chern_prediction, check_lattice_batch

SHAPES = [(4, 4, 3), (2, 4, 4, 3), (0, 4, 4, 3), (8, 8, 3), (2, 2, 3), (1, 1, 3), (4, 4, 2), (4, 5, 3), (4, 4),
          (2, 3, 4, 4, 3), (3,), (1, 6, 6, 3)]


def _raises(f, *a, **k) -> type | None:
    try:
        f(*a, **k)
    except (ShapeError, InputError) as e:
        return type(e)
    return None


@pytest.mark.parametrize("shape", SHAPES)
def test_one_shape_rule_for_physics_and_networks(shape):
    """The exact methods (float64 check), the networks' per-forward check and the shared rule agree."""
    rule = _raises(check_lattice_shape, shape)
    assert _raises(check_lattice, np.zeros(shape)) is rule
    assert _raises(check_lattice_batch, torch.zeros(shape)) is rule


def test_check_lattices_for_networks_and_exact_methods():
    x = np.stack([clean_lattice(8, -1.0, 0.2, 0.15)] * 2)
    a = check_lattices(x)
    assert a.dtype == np.float32 and a.shape == (2, 8, 8, 3)
    b = check_lattices(x[0], rg_size=False)
    assert b.dtype == np.float64 and b.shape == (1, 8, 8, 3) and np.array_equal(b[0], x[0])
    assert check_lattices(np.zeros((6, 6, 3)), rg_size=False).shape == (1, 6, 6, 3)  # exact methods: any N
    with pytest.raises(ShapeError, match="not 4·2"):
        check_lattices(np.zeros((6, 6, 3)), "f.npy")
    with pytest.raises(ShapeError, match="no lattices"):
        check_lattices(np.zeros((0, 8, 8, 3)))
    with pytest.raises(InputError, match="float32"):
        check_lattices(np.full((8, 8, 3), 1e300))
    assert check_lattices(np.full((8, 8, 3), 1e300), rg_size=False).dtype == np.float64


def test_load_lattices_npy(tmp_path):
    x = np.stack([clean_lattice(4, mu, 0.2, 0.15) for mu in (-1.0, 3.0)])
    np.save(tmp_path / "x.npy", x)
    np.testing.assert_array_equal(load_lattices(tmp_path / "x.npy"), x.astype(np.float32))
    np.testing.assert_array_equal(load_lattices(tmp_path / "x.npy", rg_size=False), x)


def test_predict_chern_is_the_networks_prediction():
    net, meta = load_chern_model()
    x = np.stack([clean_lattice(8, mu, tm, 0.15) for mu, tm in ((-1.0, 0.2), (3.5, 0.2), (1.0, 0.2), (0.0, 1.5))])
    label, raw, conf = predict_chern(net, x)
    with torch.no_grad():
        out = net(torch.from_numpy(x.astype(np.float32)))
    want_label, want_conf = chern_prediction(out.double())
    np.testing.assert_array_equal(label, want_label.numpy())
    np.testing.assert_allclose(conf, want_conf.numpy(), rtol=1e-6)
    assert label.dtype == np.int64 and conf.dtype == np.float64 and raw.shape[0] == 4
    # the same answer whatever the batch size
    np.testing.assert_array_equal(predict_chern(net, x, batch_size=1)[0], label)


def test_accuracy_of_values_labels_and_class_scores():
    y = np.array([0, 1, -1, 2])
    assert accuracy(np.array([0.4, 0.6, -1.4, 1.2]), y) == 0.75
    assert accuracy(y, y) == 1.0
    scores = np.full((4, len(CHERN_CLASSES)), -5.0)
    scores[np.arange(4), y - CHERN_CLASSES[0]] = 1.0  # the right class wins ...
    assert accuracy(scores, y) == 1.0
    scores[3] = 0.0
    scores[3, 0] = 2.0  # ... except for the last lattice, which gets class -2
    assert accuracy(scores, y) == 0.75
    with pytest.raises(ShapeError):
        accuracy(np.zeros((4, 3)), y)


def test_measured_accuracy_warning():
    """A warning where the recorded accuracy is not above "always 0", and above the largest measured size
    when that one already was; none where the network beats it, or where nothing is recorded."""
    from topoml.evaluate.predict import measured_accuracy_warning

    meta = {"accuracy": {"4": 0.978, "8": 0.964, "16": 0.952, "32": 0.725},
            "always_zero": {"4": 0.77, "8": 0.74, "16": 0.74, "32": 0.86}}
    for n in (4, 8, 16):
        assert measured_accuracy_warning(meta, n) is None
    w = measured_accuracy_warning(meta, 32)
    assert "72.5 %" in w and "86.0 %" in w and "32x32" in w
    w = measured_accuracy_warning(meta, 128)
    assert "not measured at 128x128" in w and "72.5 %" in w
    good = {"accuracy": {"4": 0.9, "8": 0.9}, "always_zero": {"4": 0.7, "8": 0.7}}
    assert measured_accuracy_warning(good, 16) is None
    assert measured_accuracy_warning({"accuracy": {"32": 0.5}}, 32) is None  # no baseline recorded
    assert measured_accuracy_warning({}, 32) is None
    assert measured_accuracy_warning({"accuracy": "bad"}, 32) is None


def test_predict_and_chern_print_the_warning_on_stderr(tmp_path, capsys):
    from topoml.cli import main
    from topoml.nets.rg import chern_net
    from topoml.train.checkpoint import model_bytes

    torch.manual_seed(0)
    spec = {"base": {"width": 4, "blocks": 1}, "rg": {"width": 4, "depth": 3, "padding": "periodic"},
            "base_kind": "invariant"}
    weights = tmp_path / "m.safetensors"
    weights.write_bytes(model_bytes(chern_net(**spec), "margalit2022.chern", spec,
                                    {"accuracy": {"8": 0.6}, "always_zero": {"8": 0.7}}))
    lat = tmp_path / "x.npy"
    x = np.zeros((2, 8, 8, 3), np.float32)
    x[..., 0], x[..., 1], x[..., 2] = -1.0, 0.2, 0.15
    np.save(lat, x)
    for argv in (["predict", str(lat), "--weights", str(weights)],
                 ["chern", str(lat), "--method", "network", "--weights", str(weights), "--no-progress"]):
        assert main(argv) == 0
        out, err = capsys.readouterr()
        assert err.startswith("topoml: warning: at 8x8 these weights scored 60.0 %"), err
        assert "exact labels: topoml chern --method bott" in err.splitlines()[0]
        assert err.count("warning") == 1 and len(out.strip().splitlines()) >= 2  # the results still printed


def test_chern_network_deviation_is_one_minus_the_confidence_predict_prints(tmp_path, capsys):
    """`topoml chern --method network`: 0 = sure, as the other methods' deviation; the JSON also gives the
    confidence, equal to `topoml predict`'s (a classifier here, whose winning probability is < 1)."""
    import json

    from topoml.cli import main
    from topoml.nets.rg import chern_net
    from topoml.train.checkpoint import model_bytes

    torch.manual_seed(1)
    spec = {"base": {"width": 4, "blocks": 1, "head": "classes"}, "rg": {"width": 4, "depth": 3},
            "base_kind": "invariant"}
    weights = tmp_path / "m.safetensors"
    weights.write_bytes(model_bytes(chern_net(**spec), "margalit2022.chern", spec, {}))
    lat = tmp_path / "x.npy"
    x = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 3)).astype(np.float32)
    np.save(lat, x)
    assert main(["predict", str(lat), "--weights", str(weights), "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)["predictions"]
    assert main(["chern", str(lat), "--method", "network", "--weights", str(weights), "--json", "--no-progress"]) == 0
    res = json.loads(capsys.readouterr().out)["results"]
    for p, r in zip(pred, res, strict=True):
        assert r["chern_number"] == p["chern_number"] and not r["certified"]
        assert r["confidence"] == pytest.approx(p["confidence"]) and r["deviation"] == pytest.approx(1 - p["confidence"])
        assert 0 < r["deviation"] < 1  # an untrained 5-class head is unsure
