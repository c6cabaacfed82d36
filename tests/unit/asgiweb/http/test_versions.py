"""The one keep-alive rule (RFC 9112 9.3), which both paths follow, and the version maps;
llhttp's own answer, which the native parser no longer takes, is compared as a witness."""

from __future__ import annotations

import httptools
import pytest

from asgiweb.helpers import HttpVersion, HttpVersion10, HttpVersion11
from asgiweb.http.versions import HTTP1_VERSIONS, HTTP_VERSIONS, keep_alive
from asgiweb.transport import RequestHead, scan_headers
from native_server.wire.parser import RequestParser

HTTP2 = HttpVersion(2, 0)

# (version, Connection fields, the connection persists)
TABLE: list[tuple[str, list[bytes], bool]] = [
    ("1.1", [], True),
    ("1.0", [], False),
    ("1.1", [b"close"], False),
    ("1.0", [b"close"], False),
    ("1.1", [b"keep-alive"], True),
    ("1.0", [b"keep-alive"], True),
    ("1.0", [b"Keep-Alive"], True),
    ("1.1", [b"CLOSE"], False),
    ("1.1", [b"Close"], False),
    ("1.1", [b"keep-alive, close"], False),
    ("1.1", [b"close, keep-alive"], False),
    ("1.1", [b"upgrade, close"], False),
    ("1.1", [b"Upgrade"], True),
    ("1.0", [b"Upgrade"], False),
    ("1.1", [b"te, close"], False),
    ("1.1", [b"foo,close"], False),
    ("1.1", [b",close"], False),
    ("1.1", [b"close,"], False),
    ("1.1", [b"close , foo"], False),
    ("1.1", [b"\tclose\t"], False),
    ("1.0", [b"keep-alive ,foo"], True),
    ("1.0", [b"foo, keep-alive"], True),
    # Tokens, not substrings.
    ("1.1", [b"closed"], True),
    ("1.1", [b"x-close"], True),
    ("1.1", [b"close x"], True),
    ("1.1", [b"close;x"], True),
    ("1.1", [b'"close"'], True),
    ("1.0", [b"keep-alives"], False),
    ("1.0", [b"x-keep-alive"], False),
    ("1.0", [b"keep-alive;q"], False),
    ("1.1", [b""], True),
    ("1.0", [b""], False),
    # Several fields are one list: a later field does not hide an earlier option.
    ("1.1", [b"close", b"foo"], False),
    ("1.1", [b"foo", b"close"], False),
    ("1.0", [b"keep-alive", b"foo"], True),
    ("1.0", [b"foo", b"keep-alive"], True),
]


def llhttp_keep_alive(version: str, fields: list[bytes], extra: bytes = b"") -> bool:
    """What httptools (llhttp) says (and so aiohttp's server)."""
    answer: list[bool] = []

    class Callbacks:
        def on_headers_complete(self) -> None:
            answer.append(parser.should_keep_alive())

    parser = httptools.HttpRequestParser(Callbacks())
    lines = b"".join(b"Connection: " + value + b"\r\n" for value in fields)
    parser.feed_data(
        b"GET / HTTP/" + version.encode() + b"\r\nHost: h\r\n" + lines + extra + b"\r\n"
    )
    return answer[0]


def joined(fields: list[bytes]) -> bytes | None:
    """The Connection value a transport hands keep_alive(), through scan_headers."""
    raw = [(b"Host", b"h")] + [(b"Connection", value) for value in fields]
    return scan_headers(raw)[4]


@pytest.mark.parametrize(("version", "fields", "expected"), TABLE)
def test_the_rule_over_the_table(version: str, fields: list[bytes], expected: bool) -> None:
    assert keep_alive(HTTP_VERSIONS[version], joined(fields)) is expected


@pytest.mark.parametrize(("version", "fields", "expected"), TABLE)
def test_llhttp_agrees_over_the_table(version: str, fields: list[bytes], expected: bool) -> None:
    assert llhttp_keep_alive(version, fields) is expected


@pytest.mark.parametrize(
    "fields", [[b"keep-alive, close"], [b"close, keep-alive"], [b"close", b"keep-alive"]]
)
def test_where_llhttp_differs_an_http_1_0_close_beside_keep_alive(fields: list[bytes]) -> None:
    # RFC 9112 9.3: "close" first, whatever the version. llhttp (so aiohttp) reads
    # HTTP/1.0 "keep-alive" alone; the native parser follows the rule.
    assert keep_alive(HttpVersion10, joined(fields)) is False
    assert llhttp_keep_alive("1.0", fields) is True
    assert native_keep_alive("1.0", fields) is False


def test_where_llhttp_differs_proxy_connection() -> None:
    # llhttp reads the obsolete Proxy-Connection as Connection; the rule does not.
    assert llhttp_keep_alive("1.1", [], b"Proxy-Connection: close\r\n") is False
    assert llhttp_keep_alive("1.0", [], b"Proxy-Connection: keep-alive\r\n") is True
    raw = [(b"Host", b"h"), (b"Proxy-Connection", b"close")]
    assert keep_alive(HttpVersion11, scan_headers(raw)[4]) is True
    assert native_keep_alive("1.1", [], b"Proxy-Connection: close\r\n") is True


def native_keep_alive(version: str, fields: list[bytes], extra: bytes = b"") -> bool:
    """What the native parser puts in the request head."""
    parser = RequestParser()
    lines = b"".join(b"Connection: " + field + b"\r\n" for field in fields)
    events = parser.feed(f"GET / HTTP/{version}\r\nHost: h\r\n".encode() + lines + extra + b"\r\n")
    head = events[0]
    assert isinstance(head, RequestHead)
    return head.keep_alive


@pytest.mark.parametrize(("version", "fields", "expected"), TABLE)
def test_the_native_parser_follows_the_rule(
    version: str, fields: list[bytes], expected: bool
) -> None:
    assert native_keep_alive(version, fields) is expected


def test_http_2_persists_unless_told_to_close() -> None:
    assert keep_alive(HTTP2, None) is True
    assert keep_alive(HTTP2, b"close") is False


def test_the_version_maps() -> None:
    assert dict(HTTP1_VERSIONS) == {"1.0": HttpVersion10, "1.1": HttpVersion11}
    assert dict(HTTP_VERSIONS) == {
        "1.0": HttpVersion10,
        "1.1": HttpVersion11,
        "2": HTTP2,
        "3": HttpVersion(3, 0),  # hypercorn over QUIC: framed like HTTP/2, not as 1.1
    }
    # The very objects: transports compare versions with `is`.
    assert HTTP1_VERSIONS["1.1"] is HttpVersion11 and HTTP_VERSIONS["1.0"] is HttpVersion10
    assert "2" not in HTTP1_VERSIONS and "3" not in HTTP1_VERSIONS


def test_scan_headers_joins_several_connection_fields() -> None:
    raw = [(b"Connection", b"Upgrade"), (b"Host", b"h"), (b"connection", b"close")]
    assert scan_headers(raw)[4] == b"Upgrade, close"
    assert scan_headers([(b"host", b"h")], True)[4] is None
