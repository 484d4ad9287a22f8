"""The documents that docstrings and the README cite (``docs/NAME.md``) ship inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cited_docs_exist():
    cited = set()
    for f in [ROOT / "README.md", *(ROOT / "src").rglob("*.py"), *(ROOT / "src").rglob("*.toml")]:
        cited |= set(re.findall(r"(?<![\w/.])docs/([\w.-]+\.md)", f.read_text(encoding="utf-8")))
    assert cited, "expected citations of docs/*.md"
    missing = sorted(c for c in cited if not (ROOT / "docs" / c).is_file())
    assert not missing, f"cited but not in the repository: {missing}"
    assert "../shared/docs" not in (ROOT / "README.md").read_text(encoding="utf-8")
