"""The in-process benchmark driver (benchmarks/inprocess.py) serves every family and
endpoint it claims, refuses to count a wrong answer, and benchmarks/instructions.py turns
two instruction counts into a per-request figure."""

from __future__ import annotations

import asyncio
import dataclasses
import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `benchmarks` is not installed; it lives next to `tests`
    sys.path.insert(0, str(ROOT))

from benchmarks import inprocess, instructions  # noqa: E402
from benchmarks.contenders import ENDPOINTS  # noqa: E402

_NEEDS = {
    "aiohttp-native": ("aiohttp",),
    "starlette-uvicorn": ("starlette", "uvicorn"),
    "asgiweb-uvicorn": ("uvicorn",),
    "floor-uvicorn": ("uvicorn",),
    "asgiweb-hypercorn": ("hypercorn",),
    "starlette-hypercorn": ("starlette", "hypercorn"),
    "floor-hypercorn": ("hypercorn",),
    "thinws-uvicorn": ("uvicorn",),
}


@pytest.mark.parametrize("endpoint", inprocess.ENDPOINT_NAMES)
@pytest.mark.parametrize("family", inprocess.FAMILIES)
def test_every_family_serves_every_endpoint(family: str, endpoint: str) -> None:
    for module in _NEEDS.get(family, ()):
        pytest.importorskip(module)
    # 48 requests after the warm-up, and the first and last answers parsed in full.
    assert asyncio.run(inprocess.run(family, endpoint, 48)) == 48


@pytest.mark.parametrize("family", ["asgiweb-native", "asgiweb-uvicorn", "asgiweb-hypercorn"])
def test_a_wrong_answer_is_not_counted(family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in _NEEDS.get(family, ()):
        pytest.importorskip(module)
    plaintext = next(e for e in ENDPOINTS if e.name == "plaintext")
    wrong = dataclasses.replace(plaintext, body=b"Goodbye, World!")
    monkeypatch.setattr(inprocess, "ENDPOINTS", (wrong,))
    with pytest.raises(AssertionError, match="body"):
        asyncio.run(inprocess.run(family, "plaintext", 16))


def test_an_answer_longer_than_the_first_fails() -> None:
    answers = []
    connection = inprocess.Connection(None, lambda: answers.append(1))
    connection.keep = None
    connection.answer_size = 10
    connection.expect()
    connection.write(b"12345")
    connection.write(b"67890")
    assert answers == [1]
    connection.expect()
    with pytest.raises(AssertionError, match="longer"):
        connection.write(b"12345678901")


def _fake_valgrind(tmp_path: Path, body: str) -> str:
    script = tmp_path / "valgrind"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_measure_is_the_difference_per_request(tmp_path: Path) -> None:
    # Start-up costs 5,000,000 and every request 7,250: the figure is 7,250 exactly.
    valgrind = _fake_valgrind(
        tmp_path,
        "for last; do :; done\necho '{\"served\": '\"$last\"'}'\n"
        'echo "==1== I   refs:      $((5000000 + 7250 * last))" >&2\n',
    )
    assert instructions.measure("asgiweb-native", "plaintext", valgrind) == 7250.0


def test_a_failed_count_raises(tmp_path: Path) -> None:
    valgrind = _fake_valgrind(tmp_path, "echo 'Traceback: boom' >&2\nexit 1\n")
    with pytest.raises(RuntimeError, match="boom"):
        instructions.count("asgiweb-native", "plaintext", 10, valgrind)


def test_markdown_gives_each_pair_its_ratio() -> None:
    counts = {
        "asgiweb-native": {"plaintext": 100_000.0, "ws": 40_000.0},
        "aiohttp-native": {"plaintext": 150_000.0, "ws": 50_000.0},
        "asgiweb-uvicorn": {"plaintext": 200_000.0},
        "starlette-uvicorn": {"plaintext": 230_000.0},
    }
    rows = {line.split(" | ")[0]: line for line in instructions.markdown(counts)[2:]}
    assert rows["| plaintext"].endswith("| 100.0k | 150.0k | 200.0k | 230.0k | 1.50× | 1.15× |")
    assert rows["| ws"].endswith("| 40.0k | 50.0k |  |  | 1.25× |  |")


def test_markdown_has_a_ratio_column_per_pair_measured() -> None:
    counts = {
        "asgiweb-hypercorn": {"plaintext": 980_000.0},
        "starlette-hypercorn": {"plaintext": 1_000_000.0},
        "asgiweb-native": {"plaintext": 100_000.0},
    }
    head, _, row = instructions.markdown(counts)
    assert head == (
        "| endpoint | asgiweb-native | asgiweb-hypercorn | starlette-hypercorn"
        " | Starlette ÷ asgiweb, under hypercorn |"
    )
    assert row.endswith("| 100.0k | 980.0k | 1000.0k | 1.02× |")


def test_a_round_that_never_ends_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # An answer whose end never comes (here: every write counted as nothing) must end the
    # count with an error, not hang it.
    monkeypatch.setattr(inprocess, "_STALL_S", 0.2)
    monkeypatch.setattr(
        inprocess.Connection, "expect", lambda self: setattr(self, "pending", 1 << 40)
    )
    with pytest.raises(TimeoutError, match="no answer"):
        asyncio.run(inprocess.run("asgiweb-native", "plaintext", 48))


def test_run_counts_instructions_only_where_it_can(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import run

    monkeypatch.setattr(run.shutil, "which", lambda name: "/usr/bin/" + name)
    assert run.parse_args([]).instructions is True
    assert run.parse_args(["--quick"]).instructions is False
    assert run.parse_args(["--quick", "--instructions"]).instructions is True
    assert run.parse_args(["--no-instructions"]).instructions is False
    monkeypatch.setattr(run.shutil, "which", lambda name: None)
    assert run.parse_args([]).instructions is False
    # Asked for without valgrind: refused before any round is run, not after them all.
    with pytest.raises(SystemExit):
        run.parse_args(["--instructions"])
