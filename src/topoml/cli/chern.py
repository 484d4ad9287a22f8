"""``topoml chern LATTICES``: Chern numbers of lattices in an .npy/.h5 file, by a chosen method.

Usage::

    topoml chern LATTICES [--method localizer|bott|kpm|network] [--kappa K] [--workers N]
                          [--engine process|dask|serial] [--scheduler ADDR] [--key NAME] [--json] [--no-progress]

* ``localizer`` (default): sparse spectral-localizer index, certified by the localizer gap
  (:func:`topoml.invariants.localizer.localizer_chern_number`); any N, N = 256 in seconds.
* ``bott``: dense Bott index (the margalit2022 label), certified by the BdG gap and the distance of the
  raw value to an integer; N up to ~96 in 24 GB.
* ``kpm``: KPM local Chern marker (:func:`topoml.invariants.kpm.kpm_chern_number`), a fast stochastic
  estimate for large N; never certified: the certificate column is its stochastic standard error
  (``±err``), ``--moments``, ``--vectors``, ``--seed``.
* ``network``: the packaged ``base ∘ RG`` network (``--weights`` for another), N = 4·2^k; never
  certified (``deviation`` is ``1 − confidence``, the confidence that ``topoml predict`` prints: for a
  classifier the probability not on the answer, for a regression network twice the distance of its output
  to the nearest integer; ``--json`` also gives ``confidence``).

Text output: one line per lattice, ``index<TAB>chern<TAB>gap<TAB>deviation<TAB>certified`` (for ``kpm``
``±error`` in place of the gap); ``--json`` prints one object (``stochastic_error`` per lattice for
``kpm``). Errors are one-line messages (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import sys

from topoml.cli.types import add_engine_options, engine_of, nonnegative_int, positive_float, positive_int
from topoml.errors import ConfigError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``chern`` subcommand to ``subparsers`` (``func`` default: :func:`run`)."""
    p = subparsers.add_parser(
        "chern",
        help="Chern numbers of lattices in an .npy/.h5 file (localizer | bott | kpm | network), with certificates",
        description="Chern number of every lattice (N, N, 3) or (batch, N, N, 3) of mu, t_minus, delta in a file.",
    )
    p.add_argument("lattices", metavar="LATTICES", help=".npy or .h5 file, shape (N, N, 3) or (batch, N, N, 3)")
    p.add_argument("--method", choices=("localizer", "bott", "kpm", "network"), default="localizer",
                   help="localizer (sparse, any N; default), bott (dense, exact label, N <= ~96), "
                        "kpm (stochastic estimate, large N), network (N = 4·2^k)")
    p.add_argument("--kappa", type=positive_float, default=None, help="localizer kappa (default 3/N)")
    p.add_argument("--moments", type=positive_int, default=None, help="kpm Chebyshev moments (default: resolution 0.03)")
    p.add_argument("--vectors", type=positive_int, default=None, help="kpm random vectors per tile (default 2, at least 2)")
    p.add_argument("--seed", type=nonnegative_int, default=None, help="kpm random seed (default 0)")
    p.add_argument("--gap-tol", type=float, default=1e-6, help="smallest certified gap (default %(default)g)")
    p.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1)")
    add_engine_options(p)
    p.add_argument("--key", help="dataset name inside an .h5 file (default: inputs, or the only one)")
    p.add_argument("--weights", help="network weights (.safetensors) for --method network")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def _network(args: argparse.Namespace, x):
    import sys

    import numpy as np

    from topoml.evaluate.predict import load_chern_model, measured_accuracy_warning, predict_chern

    net, meta = load_chern_model(args.weights)
    warning = measured_accuracy_warning(meta, x.shape[1])
    if warning:
        print(f"topoml: warning: {warning}", file=sys.stderr)
    label, _raw, conf = predict_chern(net, x)
    # a network has no certificate; its deviation is 1 - confidence (0 = sure), as the other methods' 0 = exact
    return label, np.full(len(x), np.nan), 1.0 - conf, np.zeros(len(x), dtype=bool)


def run(args: argparse.Namespace) -> int:
    """Run ``topoml chern``; prints one line per lattice (or JSON) to stdout.

    Raises
    ------
    InputError, ShapeError
        Unreadable file, wrong shape, NaN/inf, bad options.
    ConfigError
        Impossible option combinations (``--kappa`` without the localizer, ``--weights`` without the
        network, Dask without ``distributed``).
    """
    from topoml.evaluate.predict import load_lattices

    if args.kappa is not None and args.method != "localizer":
        raise ConfigError("--kappa applies to --method localizer only")
    if args.weights is not None and args.method != "network":
        raise ConfigError("--weights applies to --method network only")
    for opt in ("moments", "vectors", "seed"):
        if getattr(args, opt) is not None and args.method != "kpm":
            raise ConfigError(f"--{opt} applies to --method kpm only")
    engine = engine_of(args, "process")
    if args.method == "network":
        x = load_lattices(args.lattices, args.key, rg_size=True)
        chern, gap, dev, ok = _network(args, x)
        err = None
    else:
        from topoml.invariants.lattice_chern import chern_numbers
        from topoml.runs.executor import Executor

        x = load_lattices(args.lattices, args.key, rg_size=False)
        kpm = {k: getattr(args, k) for k in ("moments", "vectors", "seed")} if args.method == "kpm" else {}
        with Executor(args.workers, engine, scheduler_address=args.scheduler) as executor:  # checks the options
            r = chern_numbers(x, method=args.method, kappa=args.kappa, gap_tol=args.gap_tol,
                              workers=1 if engine == "serial" else args.workers,
                              executor=executor if engine == "dask" else None,
                              progress=not args.no_progress and sys.stderr.isatty(), **kpm)
        chern, gap, dev, ok = r.chern, r.gap, r.deviation, r.certified
        err = r.error if args.method == "kpm" else None
    errs = [None] * len(chern) if err is None else [float(e) for e in err]  # kpm: the stochastic error
    if args.json:
        print(json.dumps({
            "method": args.method, "lattice_size": int(x.shape[1]), "n": int(len(x)),
            "certified": int(ok.sum()),
            "results": [{"index": i, "chern_number": int(c), "gap": None if g != g else float(g),
                         "deviation": float(d), "certified": bool(o), **({} if e is None else {"stochastic_error": e}),
                         **({"confidence": 1.0 - float(d)} if args.method == "network" else {})}
                        for i, (c, g, d, o, e) in enumerate(zip(chern, gap, dev, ok, errs))],
        }, indent=1))
    else:
        for i, (c, g, d, o, e) in enumerate(zip(chern, gap, dev, ok, errs)):
            print(f"{i}\t{int(c):+d}\t{f'{g:.3g}' if e is None else f'±{e:.2g}'}\t{d:.3g}\t{'certified' if o else 'NOT certified'}")
        note = "" if err is None else " (stochastic estimate: ± is its standard error)"
        print(f"# {args.method}: {int(ok.sum())}/{len(x)} certified{note}", file=sys.stderr)
    return 0
