"""Render docs/compatibility.md's per-file table from two aiohttp-suite report folders.

    python scripts/compat_table.py NATIVE_OUT ASGI_OUT

NATIVE_OUT and ASGI_OUT are the ``AIOHTTP_SUITE_OUT`` folders of an ``asgiweb-native`` and
an ``asgiweb-asgi`` run of ``shared/aiohttp-suite/run.sh``; the table is printed as Markdown.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def _tally(report: Path) -> tuple[Counter[str], Counter[str]]:
    """Tests and passes per file, from the report's outcomes.tsv."""
    total: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    for line in (report / "outcomes.tsv").read_text().splitlines():
        test_id, outcome = line.split("\t")[:2]
        if "::" not in test_id:
            continue  # the header line
        name = test_id.split("::", 1)[0].rsplit("/", 1)[-1]
        total[name] += 1
        passed[name] += outcome == "passed"
    return total, passed


def render(native: Path, asgi: Path) -> str:
    n_total, n_passed = _tally(native)
    a_total, a_passed = _tally(asgi)
    rows = ["| aiohttp test file | tests | native server | under uvicorn |", "|---|---|---|---|"]
    for name in sorted(n_total):
        rows.append(f"| `{name}` | {n_total[name]} | {n_passed[name]} | {a_passed.get(name, 0)} |")
    n_sum, a_sum = sum(n_passed.values()), sum(a_passed.values())
    total = sum(n_total.values())
    rows.append(
        f"| **all** | **{total}** | **{n_sum} ({n_sum / total:.1%})** "
        f"| **{a_sum} ({a_sum / sum(a_total.values()):.1%})** |"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(render(Path(sys.argv[1]), Path(sys.argv[2])))
