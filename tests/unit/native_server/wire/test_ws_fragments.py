"""The native frame reader bounds a message by its size, not by how many fragments carry
it; and its ``decode_text`` switch (WebSocketResponse(decode_text=False))."""

from __future__ import annotations

import pytest

from asgiweb.ws_types import WSCloseCode, WSMessage, WSMsgType
from native_server.wire.websocket import FrameReader, WebSocketProtocolError, build_frame

MASK = b"\x11\x22\x33\x44"
TEXT, BINARY, CONT = 0x1, 0x2, 0x0


def fragmented(opcode: int, pieces: list[bytes]) -> bytes:
    frames = [build_frame(opcode, pieces[0], fin=len(pieces) == 1, mask=MASK)]
    last = len(pieces) - 1
    frames += [build_frame(CONT, p, fin=i == last, mask=MASK) for i, p in enumerate(pieces) if i]
    return b"".join(frames)


def feed_all(reader: FrameReader, data: bytes, step: int = 65536) -> list[WSMessage]:
    messages: list[WSMessage] = []
    for i in range(0, len(data), step):
        messages += reader.feed(data[i : i + step])
    return messages


@pytest.mark.parametrize("count", [65_536, 100_000])
def test_many_fragments_within_max_msg_size(count: int) -> None:
    # The reported case: 4 MiB in 64-byte fragments, plus an empty final frame as some
    # clients send, was closed with 1009 although max_msg_size allowed 20 MB.
    pieces = [bytes([i % 251]) * 64 for i in range(count)] + [b""]
    reader = FrameReader(max_msg_size=20 * 1024 * 1024)
    [message] = feed_all(reader, fragmented(BINARY, pieces))
    assert message.type == WSMsgType.BINARY and message.data == b"".join(pieces)


def test_many_fragments_still_bounded_by_size() -> None:
    pieces = [b"x" * 64] * 2000  # 128000 bytes
    reader = FrameReader(max_msg_size=100_000)
    with pytest.raises(WebSocketProtocolError) as info:
        feed_all(reader, fragmented(BINARY, pieces))
    assert info.value.code == WSCloseCode.MESSAGE_TOO_BIG


def test_empty_fragments_cost_no_memory() -> None:
    # Empty continuation frames grow nothing: the message is one buffer, not a list.
    reader = FrameReader(max_msg_size=10)
    data = fragmented(TEXT, [b"a"] + [b""] * 70_000 + [b"b"])
    assert feed_all(reader, data) == [WSMessage(WSMsgType.TEXT, "ab", "")]


def test_fragment_count_limit_is_opt_in() -> None:
    pieces = [b"x"] * 10
    assert feed_all(FrameReader(), fragmented(BINARY, pieces))[0].data == b"x" * 10
    with pytest.raises(WebSocketProtocolError):
        feed_all(FrameReader(max_fragments=9), fragmented(BINARY, pieces))


@pytest.mark.parametrize(
    "data",
    [
        build_frame(TEXT, "héllo".encode(), mask=MASK),  # the small-frame fast path
        build_frame(TEXT, "héllo".encode() * 100, mask=MASK),  # a bigger single frame
        fragmented(TEXT, ["hé".encode()[:2], "hé".encode()[2:], b"llo"]),  # split é
    ],
)
def test_decode_text_false_gives_utf8_bytes(data: bytes) -> None:
    decoded = FrameReader().feed(data)[0]
    raw = FrameReader(decode_text=False).feed(data)[0]
    assert decoded.type == raw.type == WSMsgType.TEXT
    assert isinstance(decoded.data, str) and raw.data == decoded.data.encode()


@pytest.mark.parametrize(
    "data",
    [
        build_frame(TEXT, b"\xff", mask=MASK),
        build_frame(TEXT, b"ok\xc0\xaf" * 200, mask=MASK),
        fragmented(TEXT, [b"ok", b"\xed\xa0\x80"]),
    ],
)
def test_decode_text_false_still_checks_utf8(data: bytes) -> None:
    with pytest.raises(WebSocketProtocolError) as info:
        FrameReader(decode_text=False).feed(data)
    assert info.value.code == WSCloseCode.INVALID_TEXT
