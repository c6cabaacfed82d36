"""Render docs/compatibility.md's table from two runs of aiohttp's server test suite.

    python scripts/compat_table.py NATIVE_OUT ASGI_OUT

NATIVE_OUT and ASGI_OUT are the ``AIOHTTP_SUITE_OUT`` folders of an ``asgiweb-native``
and an ``asgiweb-asgi`` run of ``shared/aiohttp-suite/run.sh``. Each holds an
``outcomes.tsv``: one line per test, with the test id, its outcome and the first line of
its failure, tab-separated. The table (passed/total per aiohttp test file on each path,
then the totals) is printed as Markdown.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def tally(outcomes: Path) -> tuple[Counter[str], Counter[str]]:
    """Tests and passes per test file, from one outcomes.tsv."""
    total: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    for line in outcomes.read_text().splitlines():
        test_id, outcome = line.split("\t")[:2]
        if "::" not in test_id:
            continue  # a header line, if the harness writes one
        name = test_id.split("::", 1)[0].rsplit("/", 1)[-1]
        total[name] += 1
        passed[name] += outcome == "passed"
    return total, passed


def _cell(passed: int, total: int) -> str:
    return f"{passed}/{total}" if total else "—"


def _share(passed: int, total: int) -> str:
    return f"{passed}/{total} ({passed / total:.1%})" if total else "—"


def render(native: Path, asgi: Path) -> str:
    """The Markdown table for the outcomes.tsv in the two report folders."""
    n_total, n_passed = tally(native / "outcomes.tsv")
    a_total, a_passed = tally(asgi / "outcomes.tsv")
    rows = [
        "| aiohttp test file | native server | ASGI, under uvicorn |",
        "|---|---|---|",
    ]
    for name in sorted(n_total | a_total):
        native_cell = _cell(n_passed[name], n_total[name])
        asgi_cell = _cell(a_passed[name], a_total[name])
        rows.append(f"| `{name}` | {native_cell} | {asgi_cell} |")
    n_all = _share(sum(n_passed.values()), sum(n_total.values()))
    a_all = _share(sum(a_passed.values()), sum(a_total.values()))
    rows.append(f"| **all** | **{n_all}** | **{a_all}** |")
    return "\n".join(rows)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(render(Path(sys.argv[1]), Path(sys.argv[2])))
