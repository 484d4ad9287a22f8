"""Command-line interface: ``topoml <command> ...`` (also ``python -m topoml``).

Commands: ``reproduce`` (run a paper reproduction), ``info`` (versions, experiments, networks),
``generate`` (labelled datasets), ``chern`` (Chern numbers of lattices, :mod:`topoml.cli_chern`), ``train``, ``evaluate`` and ``predict`` (Chern-number networks,
:mod:`topoml.cli_models`). Every error topoml raises on purpose becomes a one-line message on
stderr and exit status 2, and so does an ``OSError`` from the system (read-only filesystem, disk full);
argparse usage errors exit with 2 as well; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from topoml.cli_types import add_engine_options, engine_of, positive_int
from topoml.errors import TopomlError

__all__ = ["main", "build_parser"]


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from topoml.experiments import get_experiment
    from topoml.runs.config import parse_overrides

    exp = get_experiment(args.experiment)
    profile = "quick" if args.quick else args.profile
    overrides = parse_overrides(args.set)
    if args.workers is not None:
        overrides["workers"] = args.workers
    cfg = exp.load_config(profile, overrides, args.config)
    out = Path(args.out) if args.out else Path("runs") / f"{args.experiment}-{profile}"
    print(f"topoml reproduce {args.experiment} (profile {profile}) → {out}", flush=True)
    summary = exp.run(cfg, out, progress=not args.no_progress, engine=engine_of(args, "process"),
                      scheduler_address=args.scheduler)
    if hasattr(exp, "format_table"):
        print(exp.format_table(summary))
    if profile == "quick":
        from topoml.runs.rundir import QUICK_NOTE

        print(f"note: {QUICK_NOTE}")
    print(f"report: {out / 'report.md'}")
    return 0


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

    r = sub.add_parser("reproduce", help="reproduce a paper's results into a run directory")
    r.add_argument("experiment", help="experiment key, e.g. zhang2018 (see `topoml info`)")
    r.add_argument("--quick", action="store_true", help="small data, few epochs (about a minute)")
    r.add_argument("--profile", default="default", help="config profile (default: %(default)s)")
    r.add_argument("--config", help="TOML file with profiles, instead of the built-in one")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
    r.add_argument("--workers", type=positive_int, help="parallel worker processes")
    add_engine_options(r)
    r.add_argument("--out", help="run directory (default: runs/<experiment>-<profile>); an existing one resumes")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.set_defaults(func=_cmd_reproduce)

    i = sub.add_parser("info", help="versions, experiments and networks")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_cmd_info)

    try:
        from topoml import cli_generate
    except ImportError:
        cli_generate = None
    if cli_generate is not None:
        cli_generate.add_parser(sub)
    from topoml import cli_chern, cli_models

    cli_models.add_commands(sub)
    cli_chern.add_parser(sub)
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
    except MemoryError:
        print("topoml: error: out of memory; use smaller batches or datasets", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("topoml: interrupted (finished work is kept; rerun the same command to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
