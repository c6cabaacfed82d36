"""The parser's typed events: what feed() returns, and what a ProtocolError carries."""

from __future__ import annotations

import pytest

from asgiweb.helpers import HttpVersion10, HttpVersion11
from asgiweb.transport import RequestHead
from native_server.wire import events, parser
from native_server.wire.parser import (
    END_OF_MESSAGE,
    EndOfMessage,
    Event,
    ProtocolError,
    RequestParser,
)

PIPELINE = (
    b"POST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    b"GET /next HTTP/1.0\r\n\r\n"
)


def kinds(feed: list[Event]) -> list[str]:
    """Each event's kind, checked with the protocol's own dispatch."""
    out = []
    for event in feed:
        if type(event) is bytes:
            out.append("data")
        elif event is END_OF_MESSAGE:
            out.append("end")
        else:
            assert type(event) is RequestHead
            out.append("head")
    return out


def test_two_pipelined_requests_one_chunked_give_the_typed_sequence() -> None:
    feed = RequestParser().feed(PIPELINE)
    assert kinds(feed) == ["head", "data", "data", "end", "head", "end"]
    post, hello, world, end, get, end2 = feed
    assert isinstance(post, RequestHead) and isinstance(get, RequestHead)
    assert (post.method, post.path, post.query_string) == ("POST", "/upload", "x=1")
    assert post.version is HttpVersion11 and post.has_body and post.keep_alive
    assert post.root_path == "" and post.scheme == "http" and post.authority is None
    assert post.raw_headers == ((b"Host", b"example.com"), (b"Transfer-Encoding", b"chunked"))
    assert (hello, world) == (b"hello", b" world")  # trailers never surface
    assert end is END_OF_MESSAGE and end2 is END_OF_MESSAGE
    assert get.version is HttpVersion10 and not get.keep_alive and not get.has_body


def test_the_same_events_however_the_bytes_are_cut() -> None:
    whole = kinds(RequestParser().feed(PIPELINE))
    p = RequestParser()
    bytewise: list[Event] = []
    for i in range(len(PIPELINE)):
        bytewise += p.feed(PIPELINE[i : i + 1])
    # Body chunks may come in more pieces; heads and ends are the same, in the same order.
    assert [k for k in kinds(bytewise) if k != "data"] == [k for k in whole if k != "data"]
    assert b"".join(e for e in bytewise if type(e) is bytes) == b"hello world"


def test_a_protocol_error_carries_the_events_before_the_fault() -> None:
    good = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    with pytest.raises(ProtocolError) as info:
        RequestParser().feed(good + b"GET /b HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n")
    error = info.value
    assert error.status == 400
    assert kinds(error.events) == ["head", "end"]
    head = error.events[0]
    assert isinstance(head, RequestHead) and head.path == "/a"


def test_a_protocol_error_inside_a_body_carries_the_body_read() -> None:
    data = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n"
    with pytest.raises(ProtocolError) as info:
        RequestParser().feed(data)
    assert kinds(info.value.events) == ["head", "data"]
    assert info.value.events[1] == b"abc"


def test_versions_llhttp_knows_beyond_1_0_and_1_1_are_refused_with_505() -> None:
    # llhttp itself refuses the versions it does not know (400); 2.0 and 0.9 reach the map.
    for version in (b"2.0", b"0.9"):
        with pytest.raises(ProtocolError) as info:
            RequestParser().feed(b"GET / HTTP/" + version + b"\r\nHost: h\r\n\r\n")
        assert info.value.status == 505


def test_the_event_types_are_exported_with_their_documentation() -> None:
    for name in ("END_OF_MESSAGE", "Data", "EndOfMessage", "Event"):
        assert name in parser.__all__ and name in events.__all__
        assert getattr(parser, name) is getattr(events, name)
    assert EndOfMessage.__doc__ and events.__doc__
    assert type(END_OF_MESSAGE) is EndOfMessage and repr(END_OF_MESSAGE) == "END_OF_MESSAGE"
    assert list(EndOfMessage) == [END_OF_MESSAGE]  # a singleton: `is` is the test
