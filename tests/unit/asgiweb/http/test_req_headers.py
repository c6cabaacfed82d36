"""Request header parsing as aiohttp does it: entity-tag lists, Forwarded, Range, Cookie,
and the mocked request's target (raw path, absolute form) and application."""

from __future__ import annotations

import logging
import time
import warnings

import pytest
from yarl import URL

from asgiweb import web
from asgiweb.http.cookies import parse_cookie_header
from asgiweb.http.request_headers import ETag, parse_etag_list, parse_forwarded, parse_range
from asgiweb.test_utils import make_mocked_request


# -- If-Match / If-None-Match ---------------------------------------------------------------
@pytest.mark.parametrize(
    "header, expected",
    [
        ('"a", W/"b", "c,d"', (ETag("a"), ETag("b", True), ETag("c,d"))),
        # Nothing after garbage is trusted, even a well-formed tag.
        ('"valid", "also",garbage"last"', (ETag("valid"), ETag("also"))),
        ('"ascii", "не ascii", "again"', (ETag("ascii"),)),
        ('"a" "b"', ()),  # no separator: the first member is malformed already
        ("*", (ETag("*"),)),
        (" * ", (ETag("*"),)),
        ("", None),
        (None, None),
    ],
)
def test_etag_list(header: str | None, expected: tuple[ETag, ...] | None) -> None:
    assert parse_etag_list(header) == expected


def test_if_match_and_if_none_match_stop_at_garbage() -> None:
    headers = {"If-Match": '"x", oops"y"', "If-None-Match": '"x", oops"y"'}
    request = make_mocked_request("GET", "/", headers=headers)
    assert request.if_match == request.if_none_match == (ETag("x"),)


# -- Forwarded -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header, expected",
    [
        ("for=1.2.3.4:1234", [{"for": "1.2.3.4:1234"}]),
        ('for="[2001:db8::17]:1234"', [{"for": "[2001:db8::17]:1234"}]),
        ("for=1.2.3.4:65535;proto=https", [{"for": "1.2.3.4:65535", "proto": "https"}]),
        # Pairs must be separated by ";": what follows a blank is dropped.
        ("by=x proto=https", [{"by": "x"}]),
        ("by=x proto=https, for=y", [{"by": "x"}, {"for": "y"}]),
        ("by=x ; proto=https", [{"by": "x", "proto": "https"}]),
    ],
)
def test_forwarded(header: str, expected: list[dict[str, str]]) -> None:
    assert [dict(element) for element in parse_forwarded([header])] == expected


def test_forwarded_garbage_costs_linear_time() -> None:
    start = time.perf_counter()
    assert parse_forwarded(["{" + "f" * 100_000 + "z\x00a=v"]) == ({},)
    assert time.perf_counter() - start < 0.5


# -- Range -----------------------------------------------------------------------------------
def test_range_digits_are_ascii_only() -> None:
    # U+096B DEVANAGARI DIGIT FIVE is a digit to int() and to \d without re.ASCII.
    with pytest.raises(ValueError, match="range not in acceptable format"):
        parse_range("bytes=4-\u096b")
    request = make_mocked_request("GET", "/", headers={"Range": "bytes=\u0661-5"})
    with pytest.raises(ValueError, match="range not in acceptable format"):
        request.http_range  # noqa: B018


def test_range_still_parses() -> None:
    assert parse_range("bytes=2-5") == slice(2, 6, 1)
    assert parse_range("bytes=-5") == slice(-5, None, 1)
    assert parse_range(None) == slice(None, None, 1)


# -- Cookie ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header, expected",
    [
        ('sess="quoted_value"', {"sess": "quoted_value"}),
        ('data="value;with;semicolons"; next=1', {"data": "value;with;semicolons", "next": "1"}),
        (r'escaped="value with \" quote"', {"escaped": 'value with " quote'}),
        (r'octal="a\073b"', {"octal": "a;b"}),
        ('empty=""', {"empty": ""}),
        ('q="v1"; plain=v2; also="v3"', {"q": "v1", "plain": "v2", "also": "v3"}),
        ('open="no end; other=1', {"open": '"no end', "other": "1"}),
        # A quoted-string ends at the next unescaped quote, whatever lies between.
        (
            'a="x; b="y',
            {
                "a": "x; b=",
            },
        ),
        ("{weird}=1; Path=/; Secure", {"{weird}": "1", "Path": "/", "Secure": ""}),
    ],
)
def test_cookie_header(header: str, expected: dict[str, str]) -> None:
    assert parse_cookie_header([header]) == expected
    assert make_mocked_request("GET", "/", headers={"Cookie": header}).cookies == expected


def test_many_invalid_cookie_names_log_one_line(caplog: pytest.LogCaptureFixture) -> None:
    header = "; ".join(f"bad\x01name{i}=1" for i in range(3000)) + "; good=1"
    with caplog.at_level(logging.DEBUG, logger="asgiweb.internal"):
        assert parse_cookie_header([header]) == {"good": "1"}
    assert len(caplog.records) == 1
    record = caplog.records[0]
    assert record.levelno == logging.DEBUG and "Cannot load cookie" in record.getMessage()


# -- the mocked request ------------------------------------------------------------------------
def test_repr_escapes_a_non_ascii_path() -> None:
    request = make_mocked_request("GET", "/path/\U0001f415\U0001f308")
    assert repr(request) == "<Request GET /path/\\U0001f415\\U0001f308 >"


def test_mocked_raw_path_is_the_target_as_given() -> None:
    request = make_mocked_request("GET", "/путь?q=1")
    assert request.raw_path == "/путь?q=1"
    assert request.path == "/путь"
    assert request.rel_url.raw_path == "/%D0%BF%D1%83%D1%82%D1%8C"


def test_absolute_target_gives_scheme_and_host() -> None:
    request = make_mocked_request(
        "GET", "https://example.com:8443/path/to?a=1", headers={"Host": "ignored.test"}
    )
    assert request.url == URL("https://example.com:8443/path/to?a=1")
    assert request.scheme == "https" and request.secure
    assert request.host == "example.com:8443"
    assert request.rel_url == URL("/path/to?a=1")


def test_clone_of_an_absolute_target_keeps_or_overrides_its_origin() -> None:
    request = make_mocked_request("GET", "https://example.com/path/to?a=1")
    assert request.clone(scheme="http").url == URL("http://example.com/path/to?a=1")
    assert request.clone(host="foo.test").url == URL("https://foo.test/path/to?a=1")
    moved = request.clone(rel_url="/other")
    assert moved.host == "example.com" and moved.url == URL("https://example.com/other")


def test_mocked_app_stores_plain_keys_silently() -> None:
    request = make_mocked_request("GET", "/")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        request.app["a_field"] = "a_value"
    assert request.app["a_field"] == "a_value"
    assert isinstance(request.app, web.Application)
    with pytest.raises(AttributeError):
        request.app.no_such_attribute  # noqa: B018


def test_a_given_app_is_not_frozen_for_state() -> None:
    app = web.Application()
    key = web.AppKey("key", int)
    request = make_mocked_request("GET", "/", app=app)
    app[key] = 1  # routes are fixed, state is not: the app has not started
    assert request.app[key] == 1
