"""``topoml generate``: build a labelled dataset from a TOML config (glue for :mod:`topoml.cli`).

Usage::

    topoml generate CONFIG [--out DIR] [--workers N] [--engine process|dask|serial] [--scheduler ADDR]
                           [--no-progress]

``CONFIG`` is a TOML file (see ``topoml/experiments/configs/margalit2022_data_example.toml``) or the
name of a packaged config (``margalit2022_data_quick``). Rerunning the same command after an
interruption resumes: finished shards are kept. Errors are :class:`~topoml.errors.TopomlError` s,
which :mod:`topoml.cli` prints as one line with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys

from topoml.cli.types import add_engine_options, engine_of, positive_int

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``generate`` subcommand to ``subparsers``; its ``func`` default is :func:`run`.

    Returns
    -------
    argparse.ArgumentParser
        The subcommand's parser.
    """
    p = subparsers.add_parser(
        "generate",
        help="generate a labelled dataset (sharded HDF5) from a TOML config; resumes if interrupted",
        description=(
            "Generate a Bott-labelled dataset of disordered p+ip lattices (margalit2022) from a TOML "
            "config, as sharded HDF5 files plus manifest.json. Rerun the same command to resume."
        ),
    )
    p.add_argument("config", metavar="CONFIG",
                   help="TOML config file, or a packaged config name (e.g. margalit2022_data_quick)")
    p.add_argument("--out", metavar="DIR", default=None, help="output folder (default: run.out_dir of the config)")
    p.add_argument("--workers", metavar="N", type=positive_int, default=None,
                   help="worker processes (default: run.workers, else the available CPUs)")
    add_engine_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``topoml generate`` with parsed arguments; prints the summary to stdout.

    Returns
    -------
    int
        0 on success.

    Raises
    ------
    ConfigError
        Invalid config or options.
    DatasetError
        Unwritable output folder, a folder holding another dataset, corrupt files.
    """
    from topoml.data.generate import generate_dataset, load_config

    cfg = load_config(args.config)
    summary = generate_dataset(
        cfg,
        args.out,
        workers=args.workers,
        engine=engine_of(args),
        scheduler_address=args.scheduler,
        progress=False if args.no_progress else None,
    )
    print(summary, file=sys.stdout, flush=True)
    return 0
