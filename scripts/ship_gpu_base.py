"""Put a 4×4 base network of ``scripts/gpu_base_4x4.py`` into a margalit2022 Chern model and score it (session 15).

    python scripts/ship_gpu_base.py GPU_DIR/w192 --model src/topoml/weights/margalit2022_chern.safetensors \\
        --holdout DATA/holdout4 --holdout-bb DATA/holdout4_bb --out NEW.safetensors

``GPU_DIR/w192`` names the network's weights (``w192.safetensors`` or its shards ``w192.part*.safetensors``; the
wrapped :class:`~topoml.nets.rg.InvariantBaseNet` alone, its arguments in the shards' metadata). The new model is
the old one with its base replaced (``chern_net``'s ``coarse`` keeps the old base's arguments for the coarse base
and the size networks, so the 8×8 and larger routes are unchanged, weight for weight). The held-out sets are the
default profile's ``holdout4`` / ``holdout4_bb`` (``topoml generate``; uniform seed 4201, boundary-biased seed 4202,
100,000 lattices each). The score of the old and the new model on both sets (shipped prediction mode, plus the other
mode, the baselines, the confidence table and the breakdown: ``final_row`` of the final table of
``topoml reproduce margalit2022``) is printed as JSON and written to ``OUT.json``; the new model's metadata gets
the new 4×4 accuracy (uniform held-out; ``accuracy_bb`` the boundary-biased one) and its training record (``base``;
``train_samples["4x4"]`` the lattices the run labelled, from ``results.json`` beside the weights; ``--prior`` adds the
runs a fine-tuning run started from). The shipped model (session 16; ``OLD`` = session 15's shipped model, whose
non-base weights are session 12's):

    python scripts/ship_gpu_base.py RUN4/w192 --prior RUN3/w192 --prior RUN2/w192 --prior RUN1/w192 --model OLD \
        --holdout D/holdout4 --holdout-bb D/holdout4_bb --out NEW.safetensors --skip-old \
        --source "scripts/gpu_base_4x4.py, sessions 15-16, one H200: a 540-s run (seed 15001), fine-tuning runs of 200 s (seed 15002), 525 s (seed 15003) and 215 s (seed 15004), each --init from the one before" \
        --model-source "topoml reproduce margalit2022; 4x4 base: scripts/gpu_base_4x4.py on one H200 GPU"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _load_gpu_net(stem: str):
    from gpu_base_4x4 import load_run_weights  # beside this script

    from topoml.nets.rg import InvariantBaseNet

    state, meta = load_run_weights(stem)
    net = InvariantBaseNet(**{k: v for k, v in meta["kwargs"].items() if k != "symmetrize"})
    net.load_state_dict(state)
    return net.eval(), meta


def main() -> None:
    import torch

    from gpu_base_4x4 import load_run_weights  # beside this script

    from topoml.cli.models import _dataset_xy
    from topoml.experiments.margalit2022 import final_row
    from topoml.nets.rg import chern_net
    from topoml.train.checkpoint import load_model, model_bytes

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("gpu_net", help="weights stem, e.g. RUN/w192")
    ap.add_argument("--model", required=True)
    ap.add_argument("--holdout", required=True)
    ap.add_argument("--holdout-bb", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-old", action="store_true", help="score the new model only (the old one's scores are in "
                    "its metadata)")
    ap.add_argument("--prior", action="append", default=[], metavar="STEM",
                    help="an earlier run this one was fine-tuned from (--init): its steps, samples and labelled "
                    "lattices count too (a Chern model file: its base's record)")
    ap.add_argument("--source", default="scripts/gpu_base_4x4.py", help="where the base came from (metadata base.source)")
    ap.add_argument("--model-source", default=None, help="replaces the model's recorded source (metadata source)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    old, old_meta = load_model(args.model)
    net, gmeta = _load_gpu_net(args.gpu_net)
    spec = dict(old_meta["net"]["kwargs"])
    spec.setdefault("coarse", spec["base"])
    spec["base"] = {**net.config, "symmetrize": False}
    new = chern_net(**spec)
    state = {k: v for k, v in old.state_dict().items() if not k.startswith("base.")}
    state.update({"base." + k: v for k, v in net.state_dict().items()})
    new.load_state_dict(state)
    new.eval()
    new.symmetrize = old.symmetrize

    report = {}
    for name, path in (("holdout4", args.holdout), ("holdout4_bb", args.holdout_bb)):
        x, y = _dataset_xy(path)
        report[name] = {"new": final_row(new, x, y)} if args.skip_old else {"old": final_row(old, x, y),
                                                                             "new": final_row(new, x, y)}
        print(name, {k: {m: v[m] for m in ("accuracy", "accuracy_plain", "accuracy_group_averaged", "always_zero",
                                             "clean_phase")} for k, v in report[name].items()}, flush=True)
    meta = {k: v for k, v in old_meta.items() if k != "net"}
    if args.model_source is not None:
        meta["source"] = args.model_source
    meta["accuracy"] = {**meta["accuracy"], "4": report["holdout4"]["new"]["accuracy"]}
    meta["accuracy_bb"] = {**meta.get("accuracy_bb", {}), "4": report["holdout4_bb"]["new"]["accuracy"]}
    metas = [gmeta] + [load_run_weights(p)[1] for p in args.prior]
    meta["base"] = {"source": args.source, "samples_seen": sum(m["samples"] for m in metas),
                    "steps": sum(m["steps"] for m in metas), "kwargs": net.config}
    def labelled(stem: str, m: dict):  # lattices a run labelled (its results.json), or a model file's record
        if stem.endswith(".safetensors"):
            return m.get("n_labelled")
        r = Path(stem).parent / "results.json"
        return json.loads(r.read_text())["n_labelled"] if r.exists() else None

    counts = [labelled(p, m) for p, m in zip([args.gpu_net, *args.prior], metas)]
    if all(c is not None for c in counts):
        meta["train_samples"] = {**meta.get("train_samples", {}), "4x4": sum(counts)}
    Path(args.out).write_bytes(model_bytes(new, "margalit2022.chern", spec, meta))
    Path(args.out + ".json").write_text(json.dumps({"spec": spec, "metadata": meta, "report": report}, indent=1))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
