"""The Date header's value: rebuilt when the second changes, whichever way the clock moves;
and the IMF-fixdate both it and Last-Modified are written in."""

from __future__ import annotations

import datetime
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgiweb import helpers
from asgiweb.http.response_headers import imf_fixdate, last_modified_value


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


# Whole seconds from year 1 to 9999: what formatdate can write (it goes through datetime).
@given(st.integers(min_value=-62135596800, max_value=253402300799))
def test_imf_fixdate_is_what_email_formatdate_gives(seconds: int) -> None:
    # Every weekday, month, leap day and year, times before the epoch included.
    assert imf_fixdate(seconds) == formatdate(seconds, usegmt=True)


@given(st.datetimes(timezones=st.just(datetime.UTC)))
def test_a_datetime_last_modified_is_what_formatdate_gives(value: datetime.datetime) -> None:
    # Microseconds and all: the fraction never moves the second written.
    assert last_modified_value(value) == formatdate(value.timestamp(), usegmt=True)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (784111777, "Sun, 06 Nov 1994 08:49:37 GMT"),  # RFC 9110's own example
        (951782400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"),
    ],
)
def test_imf_fixdate_examples(seconds: int, text: str) -> None:
    assert imf_fixdate(seconds) == text
