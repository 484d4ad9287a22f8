"""Argument types of the command line (argparse ``type=``): checked numbers, one-line errors.

A bad value makes argparse exit with status 2 and ``topoml <cmd>: error: argument --x: ...`` (one line).
"""

from __future__ import annotations

import argparse
import math

__all__ = ["add_engine_options", "confidence_cut", "engine_of", "nonnegative_int", "positive_float", "positive_int"]


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None


def positive_int(text: str) -> int:
    """An integer ``>= 1``."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer ``>= 0`` (seeds)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def positive_float(text: str) -> float:
    """A finite number ``> 0`` (learning rates)."""
    value = _float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def confidence_cut(text: str) -> float:
    """A confidence threshold in ``(0, 1]`` (``predict --flag-below``)."""
    value = _float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a confidence in (0, 1], got {text!r}")
    return value


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--engine process|dask|serial`` and ``--scheduler ADDR`` (the run engine, :mod:`topoml.runs.executor`).

    Read them back with :func:`engine_of`.
    """
    parser.add_argument("--engine", choices=("process", "dask", "serial"), default=None,
                        help="process pool (default), Dask distributed, or serial in this process")
    parser.add_argument("--scheduler", metavar="ADDR", default=None,
                        help="address of a running Dask scheduler (implies --engine dask)")


def engine_of(args: argparse.Namespace, default: str | None = None) -> str | None:
    """The engine asked for by :func:`add_engine_options`' options: ``--engine``, else ``"dask"`` when a
    scheduler is given, else ``default``."""
    if args.engine is not None:
        return args.engine
    return "dask" if args.scheduler else default
