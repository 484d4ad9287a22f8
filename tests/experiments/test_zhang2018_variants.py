"""Issue 14: CNN variants keep their parameter counts; test (i) as the paper draws it has exact labels."""

import numpy as np
import pytest
import torch

from topoml.data import winding_sets as ws
from topoml.errors import ConfigError
from topoml.hamiltonians import chiral1d
from topoml.invariants.winding import winding_diagnostics
from topoml.nets import count_parameters, get_net


@pytest.mark.parametrize(
    "name, n", [("cnn", 310), ("cnn_linear", 310), ("cnn_torchinit", 310), ("cnn_sum", 243), ("fc", 4061)]
)
def test_parameter_counts(name, n):
    assert count_parameters(get_net(f"zhang2018.{name}", L=32)) == n


def test_variants_differ_as_stated():
    x = torch.randn(5, 33, 2)
    torch.manual_seed(0)
    paper = get_net("zhang2018.cnn")
    torch.manual_seed(0)
    lin = get_net("zhang2018.cnn_linear")
    assert paper.dense_activation and not lin.dense_activation
    # same weights, no dense ReLU: the linear variant's output is out(dense(D)) exactly
    with torch.no_grad():
        d = lin.local_features(x)
        assert torch.allclose(lin(x), lin.out(lin.dense(d)).squeeze(-1))
    torch.manual_seed(0)
    ti = get_net("zhang2018.cnn_torchinit")
    assert torch.count_nonzero(ti.dense.bias) == 2 and torch.count_nonzero(paper.dense.bias) == 0
    with pytest.raises(ConfigError):
        get_net("zhang2018.cnn", init="uniform")


def test_sum_readout_is_additive_over_k():
    torch.manual_seed(1)
    net = get_net("zhang2018.cnn_sum")
    x = torch.tensor(chiral1d.random_fourier(4, 4, 32, rng=3), dtype=torch.float32)
    with torch.no_grad():
        d = net.local_features(x)
        expect = net.out.weight[0, 0] * d.sum(-1) + net.out.bias[0]
        assert torch.allclose(net(x), expect, atol=1e-5)


def _root_count_winding(coef: np.ndarray) -> np.ndarray:
    """Exact winding of h_x + i h_y = Σ_m A_m cos mk + B_m sin mk by the argument principle:
    z^c (h_x + i h_y) is a polynomial of degree 2c in z = e^{ik}; w = #(roots with |z| < 1) − c."""
    A = coef[:, 0, 0] + 1j * coef[:, 1, 0]  # (n, c+1): a_x + i a_y
    B = coef[:, 0, 1] + 1j * coef[:, 1, 1]
    c = coef.shape[-1] - 1
    out = []
    for a, b in zip(A, B):
        p = np.zeros(2 * c + 1, complex)  # p[j] multiplies z^j
        for m in range(c + 1):
            p[c + m] += (a[m] - 1j * b[m]) / 2
            p[c - m] += (a[m] + 1j * b[m]) / 2
        out.append(int(np.sum(np.abs(np.roots(p[::-1])) < 1)) - c)
    return np.array(out)


def test_continuum_winding_is_the_exact_winding_number():
    coef = chiral1d.fourier_coefficients(3000, 4, rng=7)
    w, step = ws.continuum_winding(coef)
    assert np.array_equal(w, _root_count_winding(coef))
    assert np.all(step <= 0.5 * np.pi)  # every sample resolved by the adaptive grid


def test_paper_test_i_keeps_every_sample_and_agrees_with_eq3_where_steps_are_small():
    s = ws.continuum_fourier_set(3000, rng=11)
    assert len(s) == 3000 and set(s.counts()) == {-2, -1, 0, 1, 2}
    frac = {a: np.mean(np.abs(s.w) == a) for a in range(3)}
    assert abs(frac[0] - 0.36) < 0.04 and abs(frac[1] - 0.50) < 0.04 and abs(frac[2] - 0.14) < 0.03
    d = winding_diagnostics(s.x.astype(np.float64))
    small = d.max_step <= 0.5 * np.pi  # phase steps at most π/2 on the 33-point input grid
    assert small.sum() > 200
    assert np.array_equal(d.winding[small], s.w[small])
    # ... and the set does keep samples that the trusted-only generator would redraw
    assert 0.2 < s.trusted_fraction < 0.8 and np.any(~d.valid) and np.any(d.winding != s.w)
    assert s.trusted_fraction == pytest.approx(d.valid.mean(), abs=1e-3)


def test_switch_points_and_probe():
    from topoml.experiments.zhang2018 import probe_uniform_windings, switch_points

    w = list(range(-8, 9))
    probe = {"w": w, "output": w,
             "dense_pre": [[2.5 - x for x in w],      # live unit switching off between w = 2 and 3
                           [x + 10.0 for x in w],     # active everywhere: no switch
                           [x - 0.5 for x in w]],     # switches between 0 and 1, but its output weight is 0
             "out_weight": [1.0, 1.0, 0.0]}
    assert switch_points(probe) == [2.5]
    assert switch_points(probe, w_max=2) == []
    torch.manual_seed(0)
    pr = probe_uniform_windings(get_net("zhang2018.cnn"), 32)
    assert pr["w"] == w and len(pr["output"]) == 17 and len(pr["dense_pre"]) == 2 and len(pr["out_weight"]) == 2
    assert "dense_pre" not in probe_uniform_windings(get_net("zhang2018.cnn_sum"), 32)


def test_profiles_and_nets_config():
    from topoml.experiments.zhang2018 import NETS, load_config

    study = load_config("seeds20")
    assert study.seeds >= 20 and set(study.nets) == set(NETS)
    default = load_config("default")
    assert "cnn_sum" in default.nets and default.n_train <= study.n_train
    assert load_config("paper").n_train == 100_000
    for bad in (["cnn"], ["fc", "cnn", "bogus"], ["fc", "cnn", "cnn"]):
        with pytest.raises(ConfigError, match="nets"):
            load_config("quick", {"nets": bad})
