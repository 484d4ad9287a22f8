"""Command-line interface: ``topoml <command> ...`` (also ``python -m topoml``); see :mod:`topoml.cli.main`.

One module per command family: :mod:`~topoml.cli.reproduce`, :mod:`~topoml.cli.generate`,
:mod:`~topoml.cli.chern`, :mod:`~topoml.cli.models` (``train``, ``evaluate``, ``predict``); shared argument
types in :mod:`~topoml.cli.types`.
"""

from topoml.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
