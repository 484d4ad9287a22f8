"""``topoml reproduce EXPERIMENT``: run (or resume) a paper reproduction into a run directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from topoml.cli.types import add_engine_options, engine_of, positive_int

__all__ = ["add_parser"]


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


def add_parser(sub) -> None:
    """Register ``reproduce`` on the subparsers ``sub``."""
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
