"""The ``topoml`` command: its parser, ``info``, and the one place where errors become messages.

Commands: ``reproduce`` (a paper reproduction, :mod:`topoml.cli.reproduce`), ``info`` (versions,
experiments, networks), ``generate`` (labelled datasets, :mod:`topoml.cli.generate`), ``chern`` (Chern
numbers of lattices, :mod:`topoml.cli.chern`), ``train``, ``evaluate`` and ``predict`` (Chern-number
networks, :mod:`topoml.cli.models`). Every error topoml raises on purpose becomes a one-line message on
stderr and exit status 2, and so does an ``OSError`` from the system (read-only filesystem, disk full)
and a missing optional dependency (:data:`EXTRAS`: torch for the networks, Dask, the sparse solver);
argparse usage errors exit with 2 as well; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import json
import sys

from topoml.cli import chern, generate, models, reproduce
from topoml.errors import TopomlError

__all__ = ["main", "build_parser"]

#: Optional dependencies and the extra that installs each (``pip install 'topoml[nets]'``).
EXTRAS = {"torch": "nets", "dask": "dask", "distributed": "dask", "pypardiso": "large"}


def _cmd_info(args: argparse.Namespace) -> int:
    from topoml.experiments import EXPERIMENTS
    from topoml.provenance import environment_info

    env = environment_info()
    info = {"versions": env["versions"], "git_hash": env["git_hash"], "experiments": sorted(EXPERIMENTS)}
    try:
        from topoml.nets import available_nets

        info["networks"] = available_nets()
    except ImportError:  # pragma: no cover - torch missing
        info["networks"] = []
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"topoml {info['versions']['topoml']} (git {info['git_hash']})")
        print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v))
        print("experiments: " + ", ".join(info["experiments"]))
        print("networks: " + ", ".join(info["networks"]))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"topoml: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="topoml", description="Exact topological invariants, datasets and networks that learn them.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    reproduce.add_parser(sub)

    i = sub.add_parser("info", help="versions, experiments and networks")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_cmd_info)

    generate.add_parser(sub)
    models.add_commands(sub)
    chern.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TopomlError as e:
        print(f"topoml: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the system refused (read-only filesystem, disk full) after the up-front checks
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"topoml: error: {e.strerror or e}{where}; finished work is kept, fix it and rerun", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:  # an optional dependency (a label worker installs no torch)
        missing = (e.name or "").split(".")[0]
        if missing not in EXTRAS:
            raise
        print(f"topoml: error: this command needs {missing}, which is not installed; "
              f"pip install 'topoml[{EXTRAS[missing]}]'", file=sys.stderr)
        return 2
    except MemoryError:
        print("topoml: error: out of memory; use smaller batches or datasets", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("topoml: interrupted (finished work is kept; rerun the same command to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
