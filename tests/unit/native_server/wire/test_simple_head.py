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
from native_server.wire.parser import (
    END_OF_MESSAGE,
    ConnectionInfo,
    ProtocolError,
    RequestParser,
)
from native_server.wire.simple_head import simple_head, simple_heads

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
FAST: Callable[..., Any] = _speedups.simple_heads if _speedups is not None else simple_heads

LIMITS = (8190, 8190, 128, 65536)  # max_line, max_field, max_fields, max_head


def test_the_parser_takes_the_fast_path_where_the_accelerator_is() -> None:
    parser = RequestParser()
    if accel.ENABLED:
        assert parser._simple is accel.speedups.simple_heads  # type: ignore[union-attr]
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


# -- simple_heads: the run of plain heads, each a copy of the connection's template --------

#: Every slot of RequestHead, read for comparison (an unset slot reads as a marker).
_UNSET = object()


def _slots(head: object) -> dict[str, object]:
    return {name: getattr(head, name, _UNSET) for name in RequestHead.__slots__}


def _run(
    fast: Callable[..., Any], data: Any, pos: int, limits: tuple[int, ...], info: Any
) -> tuple[int, list[Any]]:
    events: list[Any] = ["before"]
    taken = fast(data, pos, *limits, info.plain_head, events, END_OF_MESSAGE)
    return taken, events


def _connection() -> ConnectionInfo:
    transport = object()
    return ConnectionInfo(
        "https", ("10.0.0.1", 5), ("10.0.0.2", 443), transport, lambda name, default: name
    )


def both_heads(data: bytes, pos: int = 0, limits: tuple[int, ...] = LIMITS) -> Any:
    """What the twin appends and returns, after checking the C function does the same:
    each head a new object whose every slot is the template's but for the request line
    and fields, which are simple_head's."""
    info = _connection()
    taken, events = _run(simple_heads, data, pos, limits, info)
    expected_pos = pos
    described = []
    for head, end in zip(events[1::2], events[2::2], strict=True):
        assert end is END_OF_MESSAGE and type(head) is RequestHead
        assert head is not info.plain_head
        found = simple_head(data, expected_pos, *limits)
        assert found is not None
        expected_pos, method, path, query, fields = found
        slots = _slots(head)
        assert slots == {
            **_slots(info.plain_head),
            "method": method,
            "path": path,
            "query_string": query,
            "_raw": fields,
        }
        for name in ("transport", "extra_info", "_first", "version", "peername"):
            assert slots[name] is getattr(info.plain_head, name)
        described.append(slots)
    assert taken == expected_pos
    assert simple_head(data, taken, *limits) is None  # it stopped at the first not plain
    if _speedups is not None:
        for given_data in (data, memoryview(data)):
            c_taken, c_events = _run(_speedups.simple_heads, given_data, pos, limits, info)
            assert c_taken == taken
            assert c_events[0] == "before" and c_events[2::2] == events[2::2]
            assert [_slots(head) for head in c_events[1::2]] == described
    return taken, described


def test_plain_heads_in_a_row() -> None:
    get = b"GET /x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n"
    taken, heads = both_heads(PLAIN + get + get + b"POST / HTTP/1.1\r\n" + get)
    assert taken == len(PLAIN) + 2 * len(get)
    assert [(head["method"], head["path"], head["query_string"]) for head in heads] == [
        ("GET", "/a/b", "x=1&y=%20"),
        ("GET", "/x", "q=1"),
        ("GET", "/x", "q=1"),
    ]
    assert heads[0]["scheme"] == "https" and heads[0]["keep_alive"] is True
    assert heads[0]["has_body"] is heads[0]["upgrade"] is heads[0]["expect"] is False
    assert heads[0]["_headers"] is None and heads[0]["authority"] is None
    taken, heads = both_heads(b"junk" + get, 4)
    assert taken == 4 + len(get) and [head["_raw"] for head in heads] == [[(b"Host", b"h")]]
    assert both_heads(b"GET / HTTP/1.0\r\n\r\n" + get) == (0, [])
    assert both_heads(get, len(get)) == (len(get), [])


def test_a_closed_parser_keeps_no_transport() -> None:
    """The template holds the transport; a closed parser's template no longer does."""
    info = _connection()
    parser = RequestParser(connection=info)
    assert parser.connection.plain_head.transport is info.transport
    parser.close()
    assert parser.connection.plain_head.transport is None
    assert parser.connection.plain_head.extra_info is None
    assert parser.connection.plain_head.peername == info.peername


class _NotSlots:
    pass


class _NoRaw:
    __slots__ = ("method", "path", "query_string")


class _Child(RequestHead):
    __slots__ = ()


@pytest.mark.parametrize("template", [_NotSlots(), _NoRaw(), object.__new__(_Child), 1, "x"])
def test_a_template_it_cannot_copy_is_refused(template: object) -> None:
    get = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    implementations = [simple_heads] + ([_speedups.simple_heads] if _speedups else [])
    for fast in implementations:
        events: list[Any] = []
        with pytest.raises(TypeError):
            fast(get, 0, *LIMITS, template, events, END_OF_MESSAGE)
        assert events == []


@compiled
@fuzz(300)
@given(
    data=st.lists(mutated(plainish()) | plainish(), max_size=4).map(b"".join)
    | st.binary(max_size=120),
    pos=st.integers(-1, 10),
    limits=st.tuples(
        st.integers(0, 40), st.integers(0, 20), st.integers(0, 6), st.integers(0, 200)
    ),
)
def test_c_and_twin_agree_on_runs(data: bytes, pos: int, limits: tuple[int, int, int, int]) -> None:
    both_heads(data, pos, limits)


# -- the parser: the same events either way -----------------------------------------------


def _describe(event: object) -> object:
    if not isinstance(event, RequestHead):
        return event
    return (
        event.method, event.path, event.query_string, event.version, event.raw_headers,
        list(event.headers.items()), event.first_value(b"content-length"),
        event.first_value(b"content-encoding"), event.scheme, event.root_path,
        event.keep_alive, event.expect, event.has_body, event.upgrade, event.peername,
        event.sockname, event.authority, event.transport, event.extra_info, event._first,
    )  # fmt: skip


# One connection for both ways: the heads must carry its very transport and callables.
_CONNECTION = _connection()


def parse(data: bytes, cuts: list[int], fast: bool) -> tuple[list[object], object, bool]:
    """Every event as described, the refusal (status, reason) or None, and upgraded."""
    parser = RequestParser(
        max_line_size=MAX_LINE,
        max_field_size=MAX_FIELD,
        max_headers=MAX_HEADERS,
        max_head_size=MAX_HEAD,
        connection=_CONNECTION,
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


@pytest.mark.parametrize(
    "data",
    [
        PLAIN,
        b"GET /x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n" * 3,
        PLAIN + b"POST /y HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok" + PLAIN,
    ],
    ids=["one", "three in a row", "around a body"],
)
def test_same_events_for_plain_heads_cut_anywhere(data: bytes) -> None:
    """Heads the fast path surely takes (the fuzzed ones are often not plain), whole and
    cut at every offset: the same heads, field for field, as llhttp makes."""
    check_same(data, [])
    for cut in range(1, len(data)):
        check_same(data, [cut])


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
