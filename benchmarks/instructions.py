"""Instructions per request, counted: the servers' own work, free of the machine's noise.

    .venv/bin/python benchmarks/instructions.py                  # 7-8 minutes on 2 cores
    .venv/bin/python benchmarks/instructions.py --endpoints plaintext --families asgiweb-native

Runs :mod:`benchmarks.inprocess` under valgrind's instruction counter (``cachegrind
--cache-sim=no``) twice per family and endpoint, serving ``LOW`` and then ``HIGH``
requests; the difference over ``HIGH - LOW`` is what one request costs, start-up and
imports cancelled out. Counts repeat to a fraction of a percent from run to run, where
the wall-clock CPU per request of ``run.py`` swings by 15-20% on a shared machine, so this
is the figure to compare before and after a change to a hot path. What it leaves out is
what every server pays alike: system calls, the kernel's TCP work, the loop's polling.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.inprocess import ENDPOINT_NAMES, FAMILIES  # noqa: E402

__all__ = ["HIGH", "LOW", "PAIRS", "count", "main", "markdown", "measure", "measure_all"]

ROOT = Path(__file__).resolve().parent.parent
LOW = 1000
HIGH = 6000
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")
#: Pairs compared in the report: (contender, the one it is measured against, the heading
#: of the ratio's column).
PAIRS = (
    ("asgiweb-native", "aiohttp-native", "aiohttp ÷ asgiweb native"),
    ("asgiweb-uvicorn", "starlette-uvicorn", "Starlette ÷ asgiweb, under uvicorn"),
    ("asgiweb-hypercorn", "starlette-hypercorn", "Starlette ÷ asgiweb, under hypercorn"),
)


def count(family: str, endpoint: str, requests: int, valgrind: str = "valgrind") -> int:
    """Instructions the whole process runs to serve ``requests`` requests in-process."""
    env = dict(os.environ, PYTHONHASHSEED="0")  # same dict layouts, same work, every run
    argv = [
        valgrind,
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "benchmarks.inprocess",
        family,
        endpoint,
        str(requests),
    ]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    found = _REFS.search(done.stderr)
    if done.returncode != 0 or found is None or '"served"' not in done.stdout:
        raise RuntimeError(f"{family} {endpoint} failed:\n{done.stdout}{done.stderr[-3000:]}")
    return int(found.group(1).replace(",", ""))


def measure(family: str, endpoint: str, valgrind: str = "valgrind") -> float:
    """Instructions per request: the difference between two counts of requests served."""
    low = count(family, endpoint, LOW, valgrind)
    high = count(family, endpoint, HIGH, valgrind)
    return (high - low) / (HIGH - LOW)


def measure_all(
    families: list[str], endpoints: list[str], jobs: int, valgrind: str = "valgrind"
) -> dict[str, dict[str, float]]:
    """``{family: {endpoint: instructions per request}}``, ``jobs`` valgrinds at a time."""
    keys = [(family, endpoint) for family in families for endpoint in endpoints]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        values = list(pool.map(lambda key: measure(*key, valgrind=valgrind), keys))
    result: dict[str, dict[str, float]] = {}
    for (family, endpoint), value in zip(keys, values, strict=True):
        result.setdefault(family, {})[endpoint] = value
    return result


def markdown(counts: dict[str, dict[str, float]]) -> list[str]:
    """The report's table: thousands of instructions per request, and the ratios."""
    families = [family for family in FAMILIES if family in counts]
    endpoints = [e for e in ENDPOINT_NAMES if any(e in counts[f] for f in families)]
    # A ratio column for each pair measured, both sides.
    pairs = [pair for pair in PAIRS if pair[0] in counts and pair[1] in counts]
    lines = [
        "| endpoint | " + " | ".join(families + [heading for _, _, heading in pairs]) + " |",
        "|---|" + "---:|" * (len(families) + len(pairs)),
    ]
    for endpoint in endpoints:
        cells = [
            f"{counts[f][endpoint] / 1000:.1f}k" if endpoint in counts[f] else "" for f in families
        ]
        ratios = []
        for ours, theirs, _ in pairs:
            mine, other = counts[ours], counts[theirs]
            ok = endpoint in mine and endpoint in other
            ratios.append(f"{other[endpoint] / mine[endpoint]:.2f}×" if ok else "")
        lines.append(f"| {endpoint} | " + " | ".join(cells + ratios) + " |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", help="a comma-separated subset of " + ", ".join(FAMILIES))
    parser.add_argument("--endpoints", help="a subset of " + ", ".join(ENDPOINT_NAMES))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="valgrinds at once")
    parser.add_argument("--json", type=Path, help="also write the counts here")
    args = parser.parse_args(argv)
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    families = args.families.split(",") if args.families else list(FAMILIES)
    endpoints = args.endpoints.split(",") if args.endpoints else list(ENDPOINT_NAMES)
    unknown = (set(families) - set(FAMILIES)) | (set(endpoints) - set(ENDPOINT_NAMES))
    if unknown:
        raise SystemExit(f"unknown: {', '.join(sorted(unknown))}")
    counts = measure_all(families, endpoints, args.jobs, valgrind)
    print("\n".join(markdown(counts)))
    if args.json is not None:
        args.json.write_text(json.dumps(counts, indent=2) + "\n")


if __name__ == "__main__":
    main()
