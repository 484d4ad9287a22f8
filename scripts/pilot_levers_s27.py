"""Three levers for the 4×4 base network that session 27 measured against the default's 3-block row (issue 10).

Every pilot starts from a ``scripts/pilot_base_rows.py`` run BASE that trained the profile's ``shallow`` row (width 64,
3 blocks, 2 × 500k samples of ``train4``, float32) on one or more seeds, and scores on its ``holdout4`` /
``holdout4_bb``, plain and averaged over the label's 64 symmetries (GA). One torch thread per process (run two at a
time on 2 cores, as the ablation stage does). Not run by CI: the numbers are in ``docs/margalit2022-history.md``,
"Session 27".

    python scripts/pilot_base_rows.py BASE --rows '{"shallow": {"base_net": {"width": 64, "blocks": 3},
        "base": {"epochs": 2, "samples_per_epoch": 500000, "precision": "float32"}}}'

    python scripts/pilot_levers_s27.py BASE attention NAME SEED [layers=4 width=64 heads=4 ff=2]
        A translation-equivariant transformer in place of the residual blocks: one circular 3×3 convolution embeds
        the 6 input features of InvariantBaseNet per site, then ``layers`` pre-LayerNorm self-attention layers over
        the 16 sites with a learned bias per head and per torus displacement (exact translation equivariance) and a
        GELU MLP of ``ff``·width, a LayerNorm, the global mean + max pool and InvariantBaseNet's head. Trained with
        the row's stage and seed (``fit_4x4``).
    python scripts/pilot_levers_s27.py BASE pool
        2 M fresh boundary-biased lattices (``train4``'s spec, seed 4901) into BASE/levers/pool4.
    python scripts/pilot_levers_s27.py BASE score ROW
        The cross-entropy of ROW's kept network on every lattice of the pool (BASE/levers/loss_ROW.npy).
    python scripts/pilot_levers_s27.py BASE mine ROW {hard,random} N
        Fine-tunes ROW's network on N lattices of the pool: ``random``, or ``hard`` = the N/2 of highest loss plus
        N/2 of the rest at random (the class prior kept in view); one pass, AdamW, cosine from lr 5e-4, augmented,
        the energies with a fresh auxiliary head.
    python scripts/pilot_levers_s27.py BASE ema ROW
        Retrains ROW from its own seed (the plain weights come out equal to the row's, one thread) and keeps
        exponential moving averages of its weights after every step (``torch.optim.swa_utils``, decays 0.998 and
        0.9995; not bias-corrected: after the 3,906 steps of 1 M samples the initial weights keep 0.998^3906 = 0.04 %
        and 0.9995^3906 = 14 % of the average), scored beside the final weights.

    python scripts/pilot_levers_s27.py BASE twist ROW SEED
        ROW retrained from its own seed with other auxiliary targets: the BdG energies of the lattice under the four
        boundary conditions periodic / antiperiodic in x and in y (a flux π through either cycle of the torus; the
        default's targets are the periodic 16 of them), 64 standardized targets.

Each command writes ``scores.json`` in its folder under BASE/levers and prints it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from topoml.experiments import margalit2022 as m
from topoml.experiments.margalit2022 import stages
from topoml.nets.rg import CHERN_CLASSES, InvariantBaseNet
from topoml.rng import derive_seed
from topoml.train.checkpoint import load_state_bytes

SCORED = ("holdout4", "holdout4_bb")


class _AttentionLayer(nn.Module):
    def __init__(self, d: int, heads: int, ff: int, n: int = 4):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.o = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, ff * d), nn.GELU(), nn.Linear(ff * d, d))
        self.bias = nn.Parameter(torch.zeros(heads, n * n))
        r, c = torch.arange(n * n) // n, torch.arange(n * n) % n
        self.register_buffer("disp", ((r[None] - r[:, None]) % n) * n + (c[None] - c[:, None]) % n, persistent=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, t, d = h.shape
        q, k, v = self.qkv(self.ln1(h)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=self.bias[:, self.disp].to(q.dtype))
        h = h + self.o(a.transpose(1, 2).reshape(b, t, d))
        return h + self.mlp(self.ln2(h))


class AttentionBaseNet(InvariantBaseNet):
    """InvariantBaseNet with its residual blocks replaced by self-attention over the sites of a 4×4 lattice."""

    def __init__(self, width: int = 64, layers: int = 4, heads: int = 4, ff: int = 2, hidden: int = 128):
        super().__init__(width=width, blocks=0, hidden=hidden)
        self.layers = nn.ModuleList([_AttentionLayer(width, heads, ff) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1:3] != (4, 4):
            raise ValueError("AttentionBaseNet reads 4x4 lattices")
        h = F.relu(self.first(self._features(x))).flatten(2).transpose(1, 2)  # (batch, 16 sites, width)
        for layer in self.layers:
            h = layer(h)
        h = self.ln(h)
        return torch.cat([h.mean(1), h.amax(1)], dim=1)


def _row(base: Path, row: str):
    res = json.loads((base / "jobs" / f"ablation-{row}" / "result.json").read_text())
    return m.NetSpec.model_validate(res["net"]), m.StageSpec.model_validate(res["stage"]), res


def _sets(base: Path, names=("train4", "test4", "test4_bb", *SCORED)) -> dict:
    return {t: stages._load_set(base / "data" / t) for t in names}


def _score(nets: dict, data: dict, out: dict, folder: Path) -> None:
    for name, net in nets.items():
        for sym in (False, True):
            net.symmetrize = sym
            for t in SCORED:
                out[f"{name}{t}" + ("_group_averaged" if sym else "")] = stages._accuracy(net, data, t)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scores.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out))


def attention(base: Path, name: str, seed: int, *kw: str) -> None:
    opts = {k: int(v) for k, v in (a.split("=") for a in kw)}
    _, st, _ = _row(base, "shallow")
    data, s = _sets(base), derive_seed(seed, "ablation")
    torch.manual_seed(s)
    net = AttentionBaseNet(**opts)
    folder = base / "levers" / f"attention-{name}"
    res = stages.fit_4x4(net, st, s, folder, data, name, True, loss=stages._loss(True, st))
    _score({"": net}, data, {"options": opts, "seed": seed, "train_seconds": res["train_seconds"],
                             "parameters": sum(p.numel() for p in net.parameters())}, folder)


def _trained(base: Path, row: str):
    spec, st, _ = _row(base, row)
    net = stages._base_net(spec)
    load_state_bytes(stages._training_view(net, st), (base / "jobs" / f"ablation-{row}" / "best.safetensors").read_bytes())
    return net, st


def pool(base: Path) -> None:
    from topoml.data.generate import generate_dataset

    spec = m.load_config("default").data["train4"].model_copy(update={"seed": 4901})
    generate_dataset(m.dataset_config("pool4", spec), base / "levers" / "pool4", workers=2, progress=False)


def score(base: Path, row: str) -> None:
    net, _ = _trained(base, row)
    x, y = stages._load_set(base / "levers" / "pool4")
    target = torch.as_tensor(y - CHERN_CLASSES[0])
    with torch.no_grad():
        loss = [F.cross_entropy(net(torch.as_tensor(x[i:i + 4096])), target[i:i + 4096], reduction="none").numpy()
                for i in range(0, len(x), 4096)]
    np.save(base / "levers" / f"loss_{row}.npy", np.concatenate(loss))


def mine(base: Path, row: str, arm: str, n: int) -> None:
    net, st0 = _trained(base, row)
    st = st0.model_copy(update={"epochs": 1, "samples_per_epoch": 0, "lr": 5e-4, "schedule": "cosine"})
    x, y = stages._load_set(base / "levers" / "pool4")
    loss = np.load(base / "levers" / f"loss_{row}.npy")
    rng = np.random.default_rng(27)
    if arm == "random":
        idx = rng.choice(len(loss), n, replace=False)
    elif arm == "hard":
        order = np.argsort(-loss, kind="stable")
        idx = np.sort(np.concatenate([order[:n // 2], rng.choice(order[n // 2:], n - n // 2, replace=False)]))
    else:
        raise ValueError(f"arm must be 'hard' or 'random', got {arm!r}")
    data = {**_sets(base, ("test4", "test4_bb", *SCORED)), "train4": (x[idx], y[idx])}
    s = derive_seed(2027, row, arm)
    torch.manual_seed(s)
    folder = base / "levers" / f"mine-{row}-{arm}-{n}"
    res = stages.fit_4x4(net, st, s, folder, data, folder.name, True, loss=stages._loss(True, st))
    _score({"": net}, data, {"train_seconds": res["train_seconds"], "mean_selected_loss": float(loss[idx].mean())},
           folder)


def ema(base: Path, row: str) -> None:
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    spec, st, res = _row(base, row)
    data, s = _sets(base), derive_seed(res["seed"], "ablation")
    torch.manual_seed(s)
    net = stages._base_net(spec)
    emas = {d: AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(d)) for d in (0.998, 0.9995)}
    step = torch.optim.AdamW.step

    def step_and_average(self, *a, **k):  # the trainer builds its own optimizer: every AdamW step updates the EMAs
        r = step(self, *a, **k)
        for e in emas.values():
            e.update_parameters(net)
        return r

    torch.optim.AdamW.step = step_and_average
    folder = base / "levers" / f"ema-{row}"
    res = stages.fit_4x4(net, st, s, folder, data, folder.name, True, loss=stages._loss(True, st))
    _score({"final:": net, **{f"ema{d}:": e.module for d, e in emas.items()}}, data,
           {"best_epoch": res["best_epoch"], "train_seconds": res["train_seconds"]}, folder)


class TwistedEnergies:
    """The positive BdG energies of 4×4 lattices under the boundary conditions ``twists`` (``(flux_x, flux_y)``, each
    0 or π: the hopping and pairing terms of the bonds that cross that cycle of the torus change sign), standardized
    per index on ``reference``: ``(batch, 4, 4, 3)`` → float32 ``(batch, 16·len(twists))``."""

    def __init__(self, reference: np.ndarray, twists=((0, 0), (1, 0), (0, 1), (1, 1))):
        from topoml.hamiltonians.pip import _bonds

        s, sx, sy = _bonds(4)
        self.signs = []
        for tx, ty in twists:
            sign = np.ones((16, 16))
            for flip, cross, b in ((tx, s // 4 == 3, sx), (ty, s % 4 == 3, sy)):  # row 3 → 0, column 3 → 0
                if flip:
                    sign[s[cross], b[cross]] = sign[b[cross], s[cross]] = -1
            self.signs.append(np.block([[sign, sign], [sign, sign]]))
        e = self._energies(reference)
        self.mean, self.std = e.mean(axis=0), np.maximum(e.std(axis=0), 1e-6)

    def _energies(self, x: np.ndarray) -> np.ndarray:
        from topoml.hamiltonians.pip import bdg_hamiltonian

        h = bdg_hamiltonian(x)
        return np.concatenate([np.linalg.eigvalsh(h * sg)[..., 16:] for sg in self.signs], axis=-1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        e = self._energies(x.detach().double().cpu().numpy())
        return torch.from_numpy(((e - self.mean) / self.std).astype(np.float32))


def twist(base: Path, row: str, seed: int) -> None:
    from topoml.nets.rg import AuxiliaryHead
    from topoml.train.trainer import Trainer, auxiliary_loss, auxiliary_targets, symmetry_augmented, tensor_batches

    spec, st, _ = _row(base, row)
    data, s = _sets(base), derive_seed(seed, "ablation")
    torch.manual_seed(s)
    net = stages._base_net(spec)
    x, y = data["train4"]
    targets = TwistedEnergies(x[:stages.AUX_REFERENCE])
    k = targets.mean.shape[0]
    model = AuxiliaryHead(net, outputs=k)
    folder = base / "levers" / f"twist-{row}-seed{seed}"

    def evaluate(_) -> dict:
        return {f"acc4{t}": stages._accuracy(net, data, f"test4{t}") for t in ("", "_bb")}

    trainer = Trainer(model, stages._train_config(st, s), folder, evaluate=evaluate, select="acc4",
                      loss=auxiliary_loss(stages._loss(True, st), k, st.aux_weight))
    source = tensor_batches(x, y, st.batch_size, s, samples_per_epoch=st.samples_per_epoch or None)
    trainer.fit(auxiliary_targets(symmetry_augmented(source, s), targets),
                on_epoch=stages._epoch_printer(folder.name, True), progress=True)
    best = trainer.load_best()
    _score({"": net}, data, {"best_epoch": best, "targets": k,
                             "train_seconds": sum(r["train_seconds"] for r in trainer.history)}, folder)


def main(argv: list[str]) -> int:
    torch.set_num_threads(1)
    base, cmd, *rest = argv
    base = Path(base)
    t0 = time.time()
    if cmd == "attention":
        attention(base, rest[0], int(rest[1]), *rest[2:])
    elif cmd == "pool":
        pool(base)
    elif cmd == "score":
        score(base, rest[0])
    elif cmd == "mine":
        mine(base, rest[0], rest[1], int(rest[2]))
    elif cmd == "ema":
        ema(base, rest[0])
    elif cmd == "twist":
        twist(base, rest[0], int(rest[1]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"{cmd}: {time.time() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
