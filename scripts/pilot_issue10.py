"""Pilot of issue 10 (base-network ablation rows at a small budget), run in session 4. Resumable.

The maintained path is the `ablation` stage of `topoml reproduce margalit2022`; this script is kept so
that the pilot table in the README can be regenerated. Usage:

    python scripts/pilot_issue10.py ROW BUDGET SAMPLES_PER_EPOCH [THREADS]

with the datasets in $TOPOML_PILOT_DATA (default ./data/pilot10), made by `generate_dataset` with
(name, seed, n, averages): (test4_u, 4102, 100k, uniform), (test4_bb, 4103, 100k, boundary_biased),
(train4_bb, 4101, 2M, boundary_biased), (train4_focus, 4104, 1M, boundary_biased, delta_range
[0.1, 0.14]); shard sizes 25k for the test sets, 50k for the training sets. Test accuracy is
measured on the first 10,000 lattices of each test set.
"""
import json
import os
import sys
import time

import numpy as np, torch
from topoml.data.store import open_dataset
from topoml.nets.rg import InvariantBaseNet, BaseNet
from topoml.nets.registry import count_parameters
from topoml.train.trainer import (TrainConfig, Trainer, chern_class_loss, chern_loss, tensor_batches,
                                  symmetry_augmented, predict)
from topoml.evaluate.metrics import accuracy

row = sys.argv[1]
ROWS = {
  "inv_ce_aug": dict(net="inv", head="classes", aug=True, train=["train4_bb"], width=64, blocks=6),
  "inv_ce_aug_small": dict(net="inv", head="classes", aug=True, train=["train4_bb"], width=48, blocks=4),
  "inv_ce_noaug_small": dict(net="inv", head="classes", aug=False, train=["train4_bb"], width=48, blocks=4),
  "inv_reg_aug_small": dict(net="inv", head="regression", aug=True, train=["train4_bb"], width=48, blocks=4),
  "paper_reg": dict(net="paper", head="regression", aug=False, train=["train4_bb"], width=64, blocks=4),
  "inv_ce_aug_focus_small": dict(net="inv", head="classes", aug=True, train=["train4_bb", "train4_focus"], width=48, blocks=4),
}
spec = ROWS[row]
budget = int(sys.argv[2]); spe = int(sys.argv[3]); threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
torch.set_num_threads(threads)
out = f"runs/pilot10/{row}-{budget}"
DATA = os.environ.get("TOPOML_PILOT_DATA", "data/pilot10")
os.makedirs(out, exist_ok=True)
def load(name, n=None):
    with open_dataset(f"{DATA}/{name}") as ds:
        sl = slice(None) if n is None else slice(0, n)
        return np.asarray(ds.inputs[sl], np.float32), np.asarray(ds.labels[sl])
xs, ys = zip(*[load(n) for n in spec["train"]])
x, y = np.concatenate(xs), np.concatenate(ys)
tests = {k: load(k, 10_000) for k in ("test4_u", "test4_bb")}
torch.manual_seed(1)
if spec["net"] == "inv":
    net = InvariantBaseNet(width=spec["width"], blocks=spec["blocks"], head=spec["head"])
else:
    net = BaseNet(width=spec["width"], depth=2 * spec["blocks"] + 1)
loss = chern_class_loss if spec["head"] == "classes" else chern_loss
cfg = TrainConfig(epochs=budget // spe, batch_size=256, optimizer="adamw", lr=2e-3, weight_decay=1e-4,
                  schedule="onecycle", seed=3)
def ev(n):
    return {f"acc_{k[6:]}": accuracy(predict(n, xt, 4096), yt) for k, (xt, yt) in tests.items()}
src = tensor_batches(x, y, 256, seed=3, samples_per_epoch=spe)
if spec["aug"]:
    src = symmetry_augmented(src, seed=3)
json.dump({"row": row, **spec, "budget": budget, "params": count_parameters(net), "train_n": len(y)},
          open(f"{out}/config.json", "w"))
tr = Trainer(net, cfg, out, loss=loss, evaluate=ev, select="acc_u")
tr.fit(src, on_epoch=lambda r: print(time.strftime("%H:%M:%S"), r["epoch"], round(r["train_loss"], 4), r["metrics"],
                                     round(r["seconds"]), flush=True))
