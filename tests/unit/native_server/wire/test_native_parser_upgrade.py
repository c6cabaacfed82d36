"""An upgrade request with a body: the body is HTTP, the bytes after it the new protocol's."""

from __future__ import annotations

import pytest

from asgiweb.transport import RequestHead
from native_server.wire.parser import END_OF_MESSAGE, ProtocolError, RequestParser

HEAD = (
    b"POST /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: other\r\n"
    b"Content-Length: 4\r\n\r\n"
)


def feed_until_upgraded(data: bytes, step: int) -> tuple[RequestParser, list[object], bytes]:
    """Feed ``data`` ``step`` bytes at a time until HTTP is over; also what was not fed."""
    parser = RequestParser()
    events: list[object] = []
    for i in range(0, len(data), step):
        events.extend(parser.feed(data[i : i + step]))
        if parser.upgraded:
            return parser, events, data[i + step :]
    return parser, events, b""


@pytest.mark.parametrize("step", [1, 3, 5, 1000])
def test_the_body_comes_before_the_upgrade_wherever_the_reads_split(step: int) -> None:
    parser, events, unfed = feed_until_upgraded(HEAD + b"Test" + b"\x81\x00next", step)
    head, *body, end = events
    assert isinstance(head, RequestHead) and head.upgrade and head.has_body
    assert b"".join(body) == b"Test"  # type: ignore[arg-type]
    assert end is END_OF_MESSAGE
    assert parser.upgraded
    # What arrived with the body's last bytes belongs to the new protocol.
    assert parser.trailing + unfed == b"\x81\x00next"


def test_an_upgrade_without_a_body_upgrades_at_the_head() -> None:
    parser = RequestParser()
    head = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n"
    events = parser.feed(head + b"rest")
    assert [type(e) for e in events] == [RequestHead, type(END_OF_MESSAGE)]
    assert parser.upgraded and parser.trailing == b"rest"


def test_a_chunked_upgrade_request_is_refused_with_501() -> None:
    parser = RequestParser()
    with pytest.raises(ProtocolError) as info:
        parser.feed(
            b"POST / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
    assert info.value.status == 501
