"""The plain-head fast path (native_server/wire/simple_head.py): the C function and its
Python twin agree on any input, and a parser that takes it makes the very events, heads
and refusals that llhttp alone makes, for any bytes cut anywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgiweb.transport import RequestHead
from native_server.wire import accel
from native_server.wire.parser import END_OF_MESSAGE, ProtocolError, RequestParser
from native_server.wire.simple_head import simple_head

from .test_fuzz_wire import (
    MAX_FIELD,
    MAX_HEAD,
    MAX_HEADERS,
    MAX_LINE,
    cuts_of,
    fuzz,
    fuzz_long,
    mostly,
    mutated,
    pipelined,
    split,
)

try:
    from native_server.wire import _speedups
except ImportError:  # pragma: no cover - only where no compiler built it
    _speedups = None  # type: ignore[assignment]

compiled = pytest.mark.skipif(_speedups is None, reason="the C accelerator is not built here")

# The implementation the differential tests plug into the parser: the C one where it is
# built, else the twin (so that the twin's equivalence is checked on every build).
FAST: Callable[..., Any] = _speedups.simple_head if _speedups is not None else simple_head

LIMITS = (8190, 8190, 128, 65536)  # max_line, max_field, max_fields, max_head


def test_the_parser_takes_the_fast_path_where_the_accelerator_is() -> None:
    parser = RequestParser()
    if accel.ENABLED:
        assert parser._simple is accel.speedups.simple_head  # type: ignore[union-attr]
    else:
        assert parser._simple is None


# -- what is plain ----------------------------------------------------------------------

PLAIN = b"GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com:8080\r\nAccept:  */* \t\r\n\r\n"


def both(data: bytes, pos: int = 0, limits: tuple[int, int, int, int] = LIMITS) -> Any:
    """The twin's answer, after checking the C function gives the same one."""
    expected = simple_head(data, pos, *limits)
    if _speedups is not None:
        assert _speedups.simple_head(data, pos, *limits) == expected
        assert _speedups.simple_head(memoryview(data), pos, *limits) == expected
    return expected


def test_a_plain_head() -> None:
    assert both(PLAIN + b"GET") == (
        len(PLAIN),
        "GET",
        "/a/b",
        "x=1&y=%20",
        # Leading whitespace of a value dropped, trailing kept: what llhttp gives.
        [(b"Host", b"example.com:8080"), (b"Accept", b"*/* \t")],
    )
    assert both(b"xx" + PLAIN, 2)[0] == 2 + len(PLAIN)
    keep_alive = b"DELETE / HTTP/1.1\r\nhost:\r\nConnection: Keep-Alive\r\n\r\n"
    assert both(keep_alive) == (
        len(keep_alive),
        "DELETE",
        "/",
        "",
        [(b"host", b""), (b"Connection", b"Keep-Alive")],
    )


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(PLAIN[:-1], id="incomplete"),
        pytest.param(b"\r\n" + PLAIN, id="empty line first"),
        pytest.param(PLAIN.replace(b"GET", b"CONNECT"), id="CONNECT"),
        pytest.param(PLAIN.replace(b"GET", b"get"), id="lower-case method"),
        pytest.param(PLAIN.replace(b"GET", b"FOO"), id="unknown method"),
        pytest.param(PLAIN.replace(b"/a/b", b"*"), id="asterisk-form"),
        pytest.param(PLAIN.replace(b"/a/b", b"http://h/a"), id="absolute-form"),
        pytest.param(PLAIN.replace(b"/a/b", b"/a#b"), id="fragment"),
        pytest.param(PLAIN.replace(b"/a/b", b"/a\xffb"), id="non-ASCII target"),
        pytest.param(PLAIN.replace(b"HTTP/1.1", b"HTTP/1.0"), id="HTTP/1.0"),
        pytest.param(PLAIN.replace(b"1.1\r\n", b"1.1\n"), id="bare LF"),
        pytest.param(PLAIN.replace(b"GET /", b"GET  /"), id="two spaces"),
        pytest.param(PLAIN.replace(b"Accept:", b"Accept :"), id="space before colon"),
        pytest.param(PLAIN.replace(b"Accept:", b" Accept:"), id="obs-fold"),
        pytest.param(PLAIN.replace(b"*/*", b"*\x01*"), id="control in value"),
        pytest.param(PLAIN.replace(b"*/*", b"*\x7f*"), id="DEL in value"),
        pytest.param(PLAIN.replace(b"*/*", b"*\xe9*"), id="obs-text in value"),
        pytest.param(PLAIN.replace(b"Accept", b"Acc(ept"), id="delimiter in name"),
        pytest.param(PLAIN.replace(b"Host: example.com:8080\r\n", b""), id="no Host"),
        pytest.param(PLAIN.replace(b"Accept", b"Host"), id="two Hosts"),
        pytest.param(PLAIN.replace(b"example.com", b"ex@mple.com"), id="odd Host"),
        pytest.param(PLAIN.replace(b"example.com", b"[::1]"), id="IP-literal Host"),
        pytest.param(PLAIN.replace(b":8080", b":80a"), id="bad port"),
        pytest.param(PLAIN.replace(b"Accept:  */*", b"Connection: close"), id="close"),
        pytest.param(PLAIN.replace(b"Accept:  */*", b"Connection: upgrade"), id="Connection"),
        pytest.param(
            PLAIN.replace(b"Accept:  */* \t", b"Connection: keep-alive\r\nConnection: keep-alive"),
            id="two Connections",
        ),
        pytest.param(PLAIN.replace(b"Accept:  */*", b"Content-Length: 0"), id="Content-Length"),
        pytest.param(PLAIN.replace(b"Accept:", b"Transfer-Encoding:"), id="Transfer-Encoding"),
        pytest.param(PLAIN.replace(b"Accept:", b"content-encoding:"), id="Content-Encoding"),
        pytest.param(PLAIN.replace(b"Accept:", b"Upgrade:"), id="Upgrade"),
        pytest.param(PLAIN.replace(b"Accept:", b"Expect:"), id="Expect"),
        pytest.param(PLAIN.replace(b"Accept:", b"Proxy-Connection:"), id="Proxy-Connection"),
        pytest.param(
            PLAIN.replace(b"Accept", b"X:a\r\n" * 64 + b"Accept"), id="more than 64 fields"
        ),
    ],
)
def test_not_plain(data: bytes) -> None:
    assert both(data) is None


def test_the_limits() -> None:
    line, field, fields, head = LIMITS
    assert both(PLAIN, 0, (14, field, fields, head)) == both(PLAIN)  # "/a/b?x=1&y=%20"
    assert both(PLAIN, 0, (13, field, fields, head)) is None
    assert both(PLAIN, 0, (line, 16, fields, head)) is not None  # "example.com:8080"
    assert both(PLAIN, 0, (line, 15, fields, head)) is None
    assert both(PLAIN, 0, (line, field, 2, head)) is not None
    assert both(PLAIN, 0, (line, field, 1, head)) is None
    assert both(PLAIN, 0, (line, field, fields, len(PLAIN))) is not None
    assert both(PLAIN, 0, (line, field, fields, len(PLAIN) - 1)) is None
    assert both(PLAIN, len(PLAIN)) is None


# -- the C function and its twin --------------------------------------------------------

TOKENS = st.sampled_from(
    [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE", b"G"]
)
NAMES = st.sampled_from(
    [b"Host", b"host", b"HOST", b"Accept", b"X-Y", b"Connection", b"Content-Length",
     b"Transfer-Encoding", b"Upgrade", b"Expect", b"Content-Encoding", b"Proxy-Connection",
     b"!#$%&'*+-.^_`|~09az"]
)  # fmt: skip
VALUES = st.sampled_from(
    [b"", b"h", b"h:1", b"h:", b"keep-alive", b"KEEP-ALIVE", b"close", b"a b", b" a\t", b"0"]
) | st.binary(max_size=12)


@st.composite
def plainish(draw: st.DrawFn) -> bytes:
    """Heads near the plain kind, so that both answers (a head, None) are common."""
    target = draw(st.binary(max_size=12).map(lambda b: b"/" + b))
    head = draw(TOKENS) + b" " + target + b" " + draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"]))
    fields = [(b"Host", draw(VALUES))] if draw(st.integers(0, 9)) else []
    fields += draw(st.lists(st.tuples(NAMES, VALUES), max_size=4))
    body = b"".join(name + b":" + value + b"\r\n" for name, value in draw(st.permutations(fields)))
    return head + b"\r\n" + body + b"\r\n" + draw(st.binary(max_size=8))


@compiled
@fuzz(600)
@given(
    data=mutated(plainish()) | st.binary(max_size=120),
    pos=st.integers(-1, 10),
    limits=st.tuples(
        st.integers(0, 40), st.integers(0, 20), st.integers(0, 6), st.integers(0, 200)
    ),
)
def test_c_and_twin_agree(data: bytes, pos: int, limits: tuple[int, int, int, int]) -> None:
    assert _speedups.simple_head(data, pos, *limits) == simple_head(data, pos, *limits)


# -- the parser: the same events either way -----------------------------------------------


def _describe(event: object) -> object:
    if not isinstance(event, RequestHead):
        return event
    return (
        event.method, event.path, event.query_string, event.version, event.raw_headers,
        list(event.headers.items()), event.first_value(b"content-length"),
        event.first_value(b"content-encoding"), event.scheme, event.root_path,
        event.keep_alive, event.expect, event.has_body, event.upgrade, event.peername,
        event.sockname, event.authority,
    )  # fmt: skip


def parse(data: bytes, cuts: list[int], fast: bool) -> tuple[list[object], object, bool]:
    """Every event as described, the refusal (status, reason) or None, and upgraded."""
    parser = RequestParser(
        max_line_size=MAX_LINE,
        max_field_size=MAX_FIELD,
        max_headers=MAX_HEADERS,
        max_head_size=MAX_HEAD,
    )
    parser._simple = FAST if fast else None
    events: list[object] = []
    refusal = None
    for piece in split(data, cuts):
        if parser.upgraded:
            break
        try:
            events += parser.feed(piece)
        except ProtocolError as exc:
            events += exc.events
            refusal = (exc.status, exc.reason)
            break
    return [_describe(event) for event in events], refusal, parser.upgraded


def check_same(data: bytes, cuts: list[int]) -> None:
    assert parse(data, cuts, fast=True) == parse(data, cuts, fast=False)


@st.composite
def plain_pipelines(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """Requests pipelined, many of them plain, some not, some broken; cut anywhere."""
    parts = draw(st.lists(mostly(plainish(), mutated(plainish()) | pipelined()), max_size=5))
    data = b"".join(part.rstrip(b"\x00") for part in parts)
    return data, draw(cuts_of(data))


@fuzz(400)
@given(plain_pipelines())
def test_same_events_either_way(given_input: tuple[bytes, list[int]]) -> None:
    check_same(*given_input)


@fuzz(200)
@given(st.binary(max_size=300).flatmap(lambda d: st.tuples(st.just(d), cuts_of(d))))
def test_same_events_either_way_arbitrary_bytes(given_input: tuple[bytes, list[int]]) -> None:
    check_same(*given_input)


@fuzz_long(30_000)
@given(plain_pipelines())
def test_same_events_either_way_long(given_input: tuple[bytes, list[int]]) -> None:
    check_same(*given_input)


def test_plain_pipelines_never_reach_llhttp() -> None:
    """The point of it: plain heads cost no llhttp callback (the fast path is really used),
    and llhttp takes over at the first head that is not plain, then hands back."""
    parser = RequestParser()
    parser._simple = FAST
    calls: list[bytes] = []
    real = parser._parser

    class Spy:
        def feed_data(self, data: Any) -> None:
            calls.append(bytes(data))
            real.feed_data(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    parser._parser = Spy()  # type: ignore[assignment]
    get = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
    post = b"POST /y HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok"
    events = parser.feed(get * 3)
    assert [type(event) for event in events] == [RequestHead, type(END_OF_MESSAGE)] * 3
    assert calls == []
    events = parser.feed(post + get)
    assert calls == [post + get]  # llhttp read the POST and what came after it in that read
    assert [getattr(event, "path", event) for event in events] == [
        "/y",
        b"ok",
        END_OF_MESSAGE,
        "/x",
        END_OF_MESSAGE,
    ]
    calls.clear()
    parser.feed(get)  # between messages again: the fast path once more
    assert calls == []


def test_after_a_closing_request_llhttp_reads_everything() -> None:
    """llhttp refuses what follows a request that closes the connection: so must we."""
    close = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    get = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
    for cuts in ([], [len(close)]):
        fast = parse(close + get, cuts, fast=True)
        assert fast == parse(close + get, cuts, fast=False)
        assert fast[1] is not None and fast[1][0] == 400
