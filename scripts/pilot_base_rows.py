"""Base-network rows of a margalit2022 profile at any budget, scored on held-out sets (issue 10, session 23).

The pilots behind the README's depth and equal-time tables. Each row is an ablation row of the profile
(:class:`topoml.experiments.margalit2022.AblationRow`: overrides of ``base_net`` and ``base``, its training sets,
its run seed) and is trained by the ablation stage itself (``_stage_ablation``: the epoch kept is the one with the
best ``test4`` accuracy). The run holds only the datasets the rows need, ``test4`` / ``test4_bb`` and the sets of
``--score``; the kept epoch of every row is then scored on all of them, plain and (invariant networks) averaged over
the label's 64 symmetries. The rows train as the ablation stage trains them: the profile's ``workers`` rows at a
time, one torch thread each (session 25; a row's result does not depend on ``workers``). Resumable: rerun the
same command after a kill (datasets, epochs and scores already written are reused); another config needs another
OUT.

    python scripts/pilot_base_rows.py OUT --rows ROWS [--profile default] [--seed 2022]
        [--data DATA] [--score holdout4,holdout4_bb]

ROWS and DATA are JSON objects, given inline or as a file: ROWS maps row names to ``AblationRow`` fields, DATA adds
dataset specs (the profile's ``[<profile>.data]`` entries) by name. Session 23, equal training time on 2 cores
(default profile, ``precision = "auto"``: bfloat16 on a CPU with bfloat16 units)::

    python scripts/pilot_base_rows.py runs/pilot23 --rows '{"shallow": {"base_net": {"width": 64, "blocks": 3},
        "base": {"samples_per_epoch": 2200000}, "train": ["train4", "train4b", "train4c"]},
        "default_base": {"train": ["train4", "train4b", "train4c"]}}'

Writes ``OUT/pilot.json`` ({row: {set: accuracy, ..., "train_seconds", "samples_seen", "parameters"}}) and prints
a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _json_arg(text: str) -> dict:
    p = Path(text)
    value = json.loads(p.read_text() if text.lstrip()[:1] not in "{[" and p.is_file() else text)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="run directory (resumed when it exists)")
    ap.add_argument("--rows", required=True, help="JSON object {row: AblationRow fields}, inline or a file")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--seed", type=int, default=None, help="run seed (default: the profile's)")
    ap.add_argument("--data", default="{}", help="JSON object {name: dataset spec} added to the profile's sets")
    ap.add_argument("--score", default="holdout4,holdout4_bb", help="comma-separated sets scored after training")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    from topoml.errors import TopomlError
    from topoml.experiments import margalit2022 as m
    from topoml.experiments.margalit2022 import stages
    from topoml.runs.rundir import RunDir, atomic_write_bytes

    try:
        rows, extra = _json_arg(args.rows), _json_arg(args.data)
        cfg = m.load_config(args.profile)
        spec_type = type(next(iter(cfg.data.values())))
        pool = {**cfg.data, **{k: spec_type.model_validate(v) for k, v in extra.items()}}
        ablation = {r: m.AblationRow.model_validate(v) for r, v in rows.items()}
        if not ablation:
            raise ValueError("--rows names no row")
        score = [s for s in args.score.split(",") if s]
        names = list(dict.fromkeys([t for r in ablation.values() for t in r.train]
                                   + [s for s in ("test4", "test4_bb") if s in pool] + score))
        missing = [k for k in names if k not in pool]
        if missing:
            raise ValueError(f"unknown datasets {missing} (profile {args.profile!r} and --data)")
        cfg = cfg.model_copy(update={"seed": cfg.seed if args.seed is None else args.seed,
                                     "data": {k: pool[k] for k in names}, "ablation": ablation})
    except (ValueError, TopomlError) as e:  # pydantic's ValidationError is a ValueError
        print(f"pilot_base_rows: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2

    from topoml.train.checkpoint import load_state_bytes

    progress = not args.no_progress
    summary = {}
    with RunDir(args.out, cfg.model_dump(), seed=cfg.seed) as rd:
        data = stages._Data(cfg, args.out, progress)
        for k in names:  # every label first: the training minutes below are training only
            data.path(k)
        for name, res in stages._stage_ablation(cfg, rd, data, progress).items():
            job = f"ablation-{name}"
            scored = rd.job_dir(job) / "scores.json"
            if not scored.exists():
                spec, st = m.NetSpec.model_validate(res["net"]), m.StageSpec.model_validate(res["stage"])
                net = stages._base_net(spec)
                load_state_bytes(stages._training_view(net, st), (rd.job_dir(job) / "best.safetensors").read_bytes())
                # the test sets as the stage scored them; the others plain and, where the stage adds it, averaged
                # over the 64 symmetries (an invariant network that does not average by itself)
                scores = {f"test4{s}{g}": res[f"acc4{s}{g}"] for s in ("", "_bb") for g in ("", "_group_averaged")
                          if f"acc4{s}{g}" in res}
                averaged = spec.kind == "invariant" and not spec.symmetrize
                for sym in (False, True) if averaged else (spec.symmetrize,):
                    if spec.kind == "invariant":
                        net.symmetrize = sym
                    for s in score:
                        scores.setdefault(s + ("_group_averaged" if averaged and sym else ""), stages._accuracy(net, data, s))
                atomic_write_bytes(scored, json.dumps(scores, indent=1).encode())
            scores = json.loads(scored.read_text())
            st = res["stage"]
            summary[name] = {**scores, "train_seconds": res["train_seconds"], "parameters": res["parameters"],
                             "samples_seen": st["epochs"] * (st["samples_per_epoch"] or res["train_samples"]),
                             "seed": res["seed"], "train": res["train"]}
    atomic_write_bytes(args.out / "pilot.json", json.dumps(summary, indent=1).encode())
    sets = [s for s in ("test4", "test4_bb") if s in data] + score
    print("| row | samples | seed | " + " | ".join(f"{s}: plain / GA" for s in sets) + " | training minutes |")
    print("|---|---|---|" + "---|" * len(sets) + "---|")
    for name, r in summary.items():
        cells = [f"{100 * r[s]:.2f} / {100 * r[s + '_group_averaged']:.2f} %" if s + "_group_averaged" in r
                 else f"{100 * r[s]:.2f} %" for s in sets]
        print(f"| {name} | {r['samples_seen']:,} | {r['seed']} | " + " | ".join(cells)
              + f" | {r['train_seconds'] / 60:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
