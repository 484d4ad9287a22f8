"""Checks of the Markdown reports (helper for the experiment tests)."""

from __future__ import annotations

import re


def table_problems(markdown: str) -> list[str]:
    """Rows of Markdown tables whose number of cells differs from their header's (an unescaped ``|``
    inside a cell, e.g. ``|w|``, splits it)."""
    problems, header = [], None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = len(re.split(r"(?<!\\)\|", line.strip())) - 2
        if header is None:
            header = cells
        elif cells != header:
            problems.append(line)
    return problems
