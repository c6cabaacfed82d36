"""Hostile input to the native server's request parser: trailers, head bounds, Host values,
transfer codings (issue 16)."""

from __future__ import annotations

import pytest

from asgiweb.transport import RequestHead
from native_server.wire.parser import (
    DEFAULT_MAX_HEADERS,
    END_OF_MESSAGE,
    MIN_MAX_HEAD_SIZE,
    ProtocolError,
    RequestParser,
)

CHUNKED_HEAD = b"POST /h HTTP/1.1\r\nHost: good.example\r\nTransfer-Encoding: chunked\r\n\r\n"


def feed(data: bytes, step: int | None = None, **limits: int) -> list[object]:
    parser = RequestParser(**limits)
    if step is None:
        return parser.feed(data)
    events: list[object] = []
    for i in range(0, len(data), step):
        events.extend(parser.feed(data[i : i + step]))
    return events


def refusal(data: bytes, step: int | None = None, **limits: int) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        feed(data, step, **limits)
    return info.value


@pytest.mark.parametrize("step", [1, 5, None])
def test_trailers_never_reach_the_request_headers(step: int | None) -> None:
    data = CHUNKED_HEAD + b"3\r\nabc\r\n0\r\nHost: evil.example\r\nAuthorization: x\r\n\r\n"
    events = feed(data, step)
    heads = [e for e in events if isinstance(e, RequestHead)]
    assert len(heads) == 1
    assert heads[0].raw_headers == (
        (b"Host", b"good.example"),
        (b"Transfer-Encoding", b"chunked"),
    )
    assert b"".join(e for e in events if isinstance(e, bytes)) == b"abc"
    assert events[-1] is END_OF_MESSAGE


def test_the_next_request_after_trailers_has_its_own_headers() -> None:
    data = CHUNKED_HEAD + b"0\r\nX-T: 1\r\n\r\nGET /n HTTP/1.1\r\nHost: n\r\n\r\n"
    heads = [e for e in feed(data) if isinstance(e, RequestHead)]
    assert [h.raw_headers for h in heads][1] == ((b"Host", b"n"),)


def test_too_many_trailers_is_400() -> None:
    trailers = b"".join(b"T%d: x\r\n" % i for i in range(20))
    exc = refusal(CHUNKED_HEAD + b"0\r\n" + trailers + b"\r\n", max_headers=10)
    assert exc.status == 400


@pytest.mark.parametrize("step", [4096, None])
def test_an_unterminated_trailer_line_is_refused_at_the_field_limit(step: int | None) -> None:
    parser = RequestParser()
    parser.feed(CHUNKED_HEAD + b"3\r\nabc\r\n0\r\nX-Big: ")
    fed = 0
    with pytest.raises(ProtocolError) as info:
        while fed < 4 * 1024 * 1024:
            parser.feed(b"a" * (step or 65536))
            fed += step or 65536
    assert info.value.status == 400
    assert fed <= 2 * 8190 + 4 + 65536  # refused once over the limit, not at the end


def test_a_big_chunk_without_newlines_is_not_a_long_line() -> None:
    parser = RequestParser()
    parser.feed(CHUNKED_HEAD + b"100000\r\n")
    events: list[object] = []
    for _ in range(16):
        events += parser.feed(b"z" * 65536)
    events += parser.feed(b"\r\n0\r\n\r\n")
    assert sum(len(e) for e in events if isinstance(e, bytes)) == 0x100000
    assert events[-1] is END_OF_MESSAGE


def test_default_header_count_is_aiohttps() -> None:
    assert DEFAULT_MAX_HEADERS == 128
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(127))
    assert feed(b"GET / HTTP/1.1\r\nHost: h\r\n" + fields + b"\r\n")[-1] is END_OF_MESSAGE
    fields += b"X-last: v\r\n"
    exc = refusal(b"GET / HTTP/1.1\r\nHost: h\r\n" + fields + b"\r\n")
    assert (exc.status, exc.reason) == (400, "Too many headers: more than 128")


@pytest.mark.parametrize("step", [1024, 65536, None])
def test_a_huge_head_is_refused_early(step: int | None) -> None:
    line = b"X-Filler-%04d: " + b"a" * 8100 + b"\r\n"
    head = b"GET / HTTP/1.1\r\nHost: h\r\n" + b"".join(line % i for i in range(1200))
    parser = RequestParser(max_headers=32768)
    chunk = step or len(head)
    fed = 0
    with pytest.raises(ProtocolError) as info:
        while fed < len(head):
            parser.feed(head[fed : fed + chunk])
            fed += chunk
    assert info.value.status == 431
    if step:
        assert fed <= MIN_MAX_HEAD_SIZE + 2 * 8190 + step


def test_head_bound_grows_with_the_field_limit() -> None:
    value = b"v" * 100_000
    events = feed(
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + value + b"\r\n\r\n", 8192, max_field_size=200_000
    )
    assert isinstance(events[0], RequestHead)
    exc = refusal(
        b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X: 1\r\n" * 1000 + b"\r\n",
        max_head_size=1000,
        max_headers=5000,
    )
    assert exc.status == 431


@pytest.mark.parametrize(
    "host",
    [b"a b@evil", b"a@evil", b"evil/path", b"x\\y", b"h:80x", b"[::1", b"h\x7f", b"h\xc3\xa9"],
)
def test_invalid_host_is_400(host: bytes) -> None:
    assert refusal(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n").status == 400


@pytest.mark.parametrize(
    "host",
    [
        b"example.com",
        b"127.0.0.1:8080",
        b"[::1]:443",
        b"[::1]",
        b"",
        b"xn--bcher-kva.example",
        b"a-b_c~d:1",
        b"%41.example",
        b"[fe80::1%25eth0]:80",
    ],
)
def test_valid_host_is_accepted(host: bytes) -> None:
    head = feed(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")[0]
    assert isinstance(head, RequestHead)


@pytest.mark.parametrize(
    "codings",
    [[b"gzip, chunked"], [b"gzip", b"chunked"], [b"deflate,chunked"]],
)
def test_a_coding_other_than_chunked_is_501(codings: list[bytes]) -> None:
    fields = b"".join(b"Transfer-Encoding: " + c + b"\r\n" for c in codings)
    exc = refusal(b"POST / HTTP/1.1\r\nHost: h\r\n" + fields + b"\r\n3\r\nabc\r\n0\r\n\r\n")
    assert exc.status == 501


def test_chunked_in_any_case_is_accepted() -> None:
    events = feed(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n")
    assert events[-1] is END_OF_MESSAGE


@pytest.mark.parametrize("connection", [b"", b"Connection: keep-alive\r\n"])
def test_transfer_encoding_in_http10_is_refused(connection: bytes) -> None:
    data = (
        b"POST /a HTTP/1.0\r\nHost: h\r\n" + connection + b"Transfer-Encoding: chunked\r\n\r\n"
        b"1c\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n\r\n0\r\n\r\n"
    )
    assert refusal(data).status == 400
