"""Which 4×4 labels does a Chern network get right: those the disorder decides, and by which mechanism (issue 10).

For the first ``--n`` lattices of a dataset folder (``topoml generate``; e.g. the default profile's held-out sets), the
network's accuracy on the labels equal to the clean phase of the lattice averages, on the labels the disorder decides
(``!=`` the clean phase, where the clean phase scores 0), and among those on the ones whose ground-state fermion
parity stays with the clean phase (the label moved through the geometry of the occupied states) or follows the label
(a closing gap), plus :func:`topoml.evaluate.metrics.accuracy_breakdown` (``accuracy_decided`` per bin). Session 17,
shipped weights, first 20,000 lattices of ``holdout4`` / ``holdout4_bb`` (README, margalit2022)::

    OPENBLAS_NUM_THREADS=1 python scripts/decided_labels.py D/holdout4 --n 20000 --out dec_u.json
    OPENBLAS_NUM_THREADS=1 python scripts/decided_labels.py D/holdout4_bb --n 20000 --out dec_bb.json

``--weights`` (default: the packaged ``topoml predict`` weights) takes any Chern model file. About 5 min per 20,000
lattices on one core for the width-192 base, group-averaged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", help="dataset folder of 4x4 lattices (topoml generate)")
    ap.add_argument("--n", type=int, default=20_000, help="the first N lattices")
    ap.add_argument("--weights", default=None, help="Chern model file (default: the packaged one)")
    ap.add_argument("--out", default=None, help="JSON file for the result")
    a = ap.parse_args()

    import torch

    from topoml.data.store import open_dataset
    from topoml.evaluate.metrics import _clean_phase, _lattice_averages, accuracy_breakdown
    from topoml.evaluate.predict import packaged_weights, predict_chern
    from topoml.invariants import fermion_parity
    from topoml.train.checkpoint import load_model

    torch.set_num_threads(1)
    with open_dataset(a.data) as ds:
        x, y = np.asarray(ds.inputs[: a.n], np.float32), np.asarray(ds.labels[: a.n])
    if x.shape[1] != 4:
        raise SystemExit(f"need 4x4 lattices, got {x.shape[1]}x{x.shape[2]}")
    net, _ = load_model(Path(a.weights).read_bytes() if a.weights else packaged_weights().read_bytes())
    net.eval()
    pred, _, _ = predict_chern(net, x)
    par = fermion_parity(x, on_gapless="flag").parity
    clean = _clean_phase(_lattice_averages(x))
    decided = clean != y
    odd = decided & ((y - clean) % 2 == 1) & (par != 0)
    geometry = odd & (par == np.where(clean % 2 == 0, 1, -1))
    groups = {"not_decided": ~decided, "decided": decided, "decided_geometry": geometry,
              "decided_gap_closing": odd & ~geometry, "decided_other": decided & ~odd}
    right = pred == y
    out = {"data": str(a.data), "n": int(len(y)), "accuracy": float(right.mean()),
           "groups": {k: {"n": int(m.sum()), "accuracy": float(right[m].mean()) if m.any() else None}
                      for k, m in groups.items()},
           "errors_on_decided": float((~right & decided).sum() / max(1, (~right).sum())),
           "breakdown": accuracy_breakdown(x, y, pred)}
    text = json.dumps(out, indent=1)
    if a.out:
        Path(a.out).write_text(text)
    print(json.dumps({k: v for k, v in out.items() if k != "breakdown"}))


if __name__ == "__main__":
    from topoml.errors import TopomlError

    try:
        main()
    except (TopomlError, OSError) as e:  # a missing or corrupt dataset / weights file: one line, no traceback
        raise SystemExit(f"decided_labels.py: {e}") from None
