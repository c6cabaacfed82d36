"""The Date header's value: rebuilt when the second changes, whichever way the clock moves."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from asgiweb import helpers


def test_http_date_follows_the_clock_second_by_second(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_700_000_000.2]
    monkeypatch.setattr(helpers.time, "time", lambda: clock[0])
    seen = []
    for now in (1_700_000_000.2, 1_700_000_000.99, 1_700_000_001.0, 1_699_999_999.5, 2.0**31):
        clock[0] = now
        seen.append(helpers.http_date())
        assert seen[-1] == formatdate(int(now), usegmt=True)
    assert seen[0] == seen[1] != seen[2]  # one text per second
    assert seen[3] != seen[2]  # the clock went back: the earlier second again


def test_http_date_is_the_current_time() -> None:
    before = formatdate(usegmt=True)
    got = helpers.http_date()
    assert got in {before, formatdate(usegmt=True)}  # a second may tick over meanwhile
