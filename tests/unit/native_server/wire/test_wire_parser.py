"""The native server's sans-IO request parser: bytes in, events out."""

from __future__ import annotations

import pytest

from asgiweb.transport import RequestHead
from native_server.wire.parser import END_OF_MESSAGE, ProtocolError, RequestParser
from native_server.wire.serializer import frame_chunk, serialize_head


def feed_all(data: bytes, step: int | None = None, **limits: int) -> list[object]:
    parser = RequestParser(**limits)
    if step is None:
        return parser.feed(data)
    events: list[object] = []
    for i in range(0, len(data), step):
        events.extend(parser.feed(data[i : i + step]))
    return events


def test_simple_get() -> None:
    events = feed_all(b"GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n")
    head, end = events
    assert isinstance(head, RequestHead)
    assert (head.method, head.path, head.query_string, head.version) == (
        "GET",
        "/a/b",
        "x=1&y=2",
        (1, 1),
    )
    assert head.raw_headers == ((b"Host", b"h"), (b"X-A", b"1"))
    assert head.keep_alive and not head.has_body
    assert end is END_OF_MESSAGE


@pytest.mark.parametrize("step", [1, 3, 7, None])
def test_pipelined_requests_with_bodies_split_anywhere(step: int | None) -> None:
    data = (
        b"POST /one HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        b"POST /two HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        b"GET /three HTTP/1.0\r\n\r\n"
    )
    events = feed_all(data, step)
    heads = [e for e in events if isinstance(e, RequestHead)]
    assert [h.path for h in heads] == ["/one", "/two", "/three"]
    assert [h.has_body for h in heads] == [True, True, False]
    assert heads[2].version == (1, 0) and not heads[2].keep_alive
    bodies: list[bytes] = []
    current = b""
    for e in events:
        if isinstance(e, bytes):
            current += e
        elif e is END_OF_MESSAGE:
            bodies.append(current)
            current = b""
    assert bodies == [b"hello", b"abcde", b""]


@pytest.mark.parametrize(
    "data, status",
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),  # obs-fold
        (b"GET / HTTP/1.1\nHost: a\n\n", 400),  # bare LF
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"GET / HTTP/9.1\r\nHost: a\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ],
)
def test_rejections(data: bytes, status: int) -> None:
    with pytest.raises(ProtocolError) as info:
        feed_all(data)
    assert info.value.status == status


def test_long_request_target_is_414_even_when_trickled() -> None:
    line = b"GET /" + b"a" * 9000
    with pytest.raises(ProtocolError) as info:
        feed_all(line, step=100)
    assert info.value.status == 414


@pytest.mark.parametrize("step", [512, None])
def test_long_header_value_is_400_even_when_trickled(step: int | None) -> None:
    # 400 as aiohttp and uvicorn answer, with aiohttp's reason text.
    data = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"v" * 20000 + b"\r\n\r\n"
    with pytest.raises(ProtocolError) as info:
        feed_all(data, step=step)
    assert info.value.status == 400
    assert info.value.reason.startswith("Got more than ")
    assert info.value.reason.endswith(" is too long.")


def test_long_header_name_is_400() -> None:
    data = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"N" * 9000 + b": v\r\n\r\n"
    with pytest.raises(ProtocolError) as info:
        feed_all(data)
    assert info.value.status == 400
    assert info.value.reason == (
        "Got more than 8190 bytes (9000) when reading Header name is too long."
    )


def test_header_value_at_the_limit_is_accepted_however_the_reads_split() -> None:
    # A name plus a value of max_field_size is a longer line than max_field_size: cut
    # mid-line, it must not be refused when it would pass in one read.
    data = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"v" * 8190 + b"\r\n\r\n"
    for step in (1000, None):
        head, end = feed_all(data, step=step)
        assert isinstance(head, RequestHead) and end is END_OF_MESSAGE
        assert head.headers["X-Big"] == "v" * 8190


def test_header_value_over_the_limit_is_400() -> None:
    data = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"v" * 8191 + b"\r\n\r\n"
    with pytest.raises(ProtocolError) as info:
        feed_all(data)
    assert (info.value.status, info.value.reason) == (
        400,
        "Got more than 8190 bytes (8191) when reading Header value is too long.",
    )


def test_too_many_headers_is_400() -> None:
    data = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: 1\r\n" * 20 + b"\r\n"
    with pytest.raises(ProtocolError) as info:
        feed_all(data, max_headers=10)
    assert info.value.status == 400


def test_origin_form_target_has_no_authority() -> None:
    (head, _) = feed_all(b"GET /p?z=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert isinstance(head, RequestHead)
    assert (head.scheme, head.authority) == ("http", None)


@pytest.mark.parametrize(
    "target, scheme, authority, path, query",
    [
        (b"http://example.com/p/q?z=1", "http", "example.com", "/p/q", "z=1"),
        (b"HTTPS://other.example:8080/p?q", "https", "other.example:8080", "/p", "q"),
        (b"http://user:pw@example.com:81/", "http", "example.com:81", "/", ""),
        (b"http://example.com", "http", "example.com", "/", ""),
        (b"http://example.com?a=/b", "http", "example.com", "/", "a=/b"),
        (b"http://[::1]:8080/x#frag", "http", "[::1]:8080", "/x", ""),
    ],
)
def test_absolute_form_target(
    target: bytes, scheme: str, authority: str, path: str, query: str
) -> None:
    # RFC 9112 3.2.2: the target's host, not the Host header, names the resource.
    (head, _) = feed_all(b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert isinstance(head, RequestHead)
    assert (head.scheme, head.authority, head.path, head.query_string) == (
        scheme,
        authority,
        path,
        query,
    )


def test_absolute_form_without_a_host_is_400() -> None:
    with pytest.raises(ProtocolError) as info:
        feed_all(b"GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n")
    assert info.value.status == 400


def test_connect_never_keeps_the_connection_alive() -> None:
    (head, *_) = feed_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    assert isinstance(head, RequestHead)
    assert head.upgrade and not head.keep_alive


def test_serialize_head_and_chunks() -> None:
    head = serialize_head((1, 1), 200, "OK", [("Content-Length", "2"), ("X", "y")])
    assert head == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\n"
    assert frame_chunk(b"hello world!!!!!!") == b"11\r\nhello world!!!!!!\r\n"
