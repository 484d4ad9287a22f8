"""Reproductions of published systems: thin drivers (config → data → train → evaluate → report).

``EXPERIMENTS`` maps an experiment key (``topoml reproduce KEY``) to the module implementing it; each
module provides ``load_config(profile, overrides, config_file=None) -> pydantic model`` (a
:class:`topoml.runs.config.StrictModel`) and ``run(config, out, progress=True, engine="process",
scheduler_address=None) -> dict`` (the summary), which runs in a locked :class:`topoml.runs.rundir.RunDir`
and its parallel work on :mod:`topoml.runs.executor`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from topoml.errors import ConfigError

__all__ = ["EXPERIMENTS", "get_experiment"]

EXPERIMENTS: dict[str, str] = {
    "zhang2018": "topoml.experiments.zhang2018",
    "margalit2022": "topoml.experiments.margalit2022",
    "oriekhov2025": "topoml.experiments.oriekhov2025",
}


def get_experiment(name: str) -> ModuleType:
    """The module of experiment ``name``; ConfigError if unknown."""
    try:
        return importlib.import_module(EXPERIMENTS[name])
    except KeyError:
        raise ConfigError(f"unknown experiment '{name}'; available: {', '.join(sorted(EXPERIMENTS))}") from None
