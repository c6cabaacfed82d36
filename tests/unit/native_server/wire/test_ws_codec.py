"""The native server's sans-IO WebSocket codec: bytes in, messages out, byte-exact frames.

Grouped like the Autobahn test suite: framing, pings/pongs, reserved bits, opcodes,
fragmentation, UTF-8, close handling, limits, compression. wsproto, when installed,
plays the client as an independent oracle.
"""

from __future__ import annotations

import os
import tracemalloc
import zlib
from typing import Any

import pytest

from asgiweb.http.ws_handshake import DeflateParams
from asgiweb.ws_types import WebSocketError, WSCloseCode, WSMessage, WSMsgType
from native_server.wire.websocket import (
    DEFAULT_MAX_MSG_SIZE,
    FrameReader,
    FrameWriter,
    WebSocketProtocolError,
    apply_mask,
    build_frame,
    is_valid_close_code,
)

MASK = b"\x37\xfa\x21\x3d"  # the mask of the RFC 6455 §5.7 examples
TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0
TAIL = b"\x00\x00\xff\xff"


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0) -> bytes:
    """A masked client frame; ``rsv`` ORs reserved bits into the first byte."""
    data = bytearray(build_frame(opcode, payload, fin=fin, mask=MASK))
    data[0] |= rsv
    return bytes(data)


def feed(data: bytes, step: int | None = None, **options: Any) -> list[WSMessage]:
    reader = FrameReader(**options)
    if step is None:
        return reader.feed(data)
    messages: list[WSMessage] = []
    for i in range(0, len(data), step):
        messages.extend(reader.feed(data[i : i + step]))
    return messages


def fails(data: bytes, code: int, **options: Any) -> WebSocketProtocolError:
    reader = FrameReader(**options)
    with pytest.raises(WebSocketProtocolError) as info:
        reader.feed(data)
    assert info.value.code == code
    return info.value


def deflate(data: bytes, compressor: Any = None) -> bytes:
    """``data`` as a permessage-deflate sender compresses it (RFC 7692 §7.2.1)."""
    compressor = compressor or zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    out: bytes = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def compressed(opcode: int, data: bytes, compressor: Any = None) -> bytes:
    return frame(opcode, deflate(data, compressor), rsv=0x40)


def unframe(data: bytes) -> bytes:
    """The payload of one unmasked server frame."""
    size = data[1] & 0x7F
    return data[2 if size < 126 else 4 if size == 126 else 10 :]


def inflate(payload: bytes, inflater: Any = None) -> bytes:
    inflater = inflater or zlib.decompressobj(-15)
    out: bytes = inflater.decompress(payload + TAIL)
    return out


# -- the public types -----------------------------------------------------------------------


def test_types_match_aiohttp() -> None:
    assert (WSMsgType.text, WSMsgType.continuation) == (WSMsgType.TEXT, WSMsgType.CONTINUATION)
    assert [int(t) for t in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)] == [
        256,
        257,
        258,
    ]
    assert [int(WSCloseCode.MESSAGE_TOO_BIG), int(WSCloseCode.BAD_GATEWAY)] == [1009, 1014]
    message = WSMessage(WSMsgType.TEXT, '{"a": [1]}', "")
    assert message.json() == {"a": [1]}
    assert message.json(loads=len) == 10
    error = WebSocketError(1002, "bad frame")
    assert (error.code, str(error), error.args) == (1002, "bad frame", (1002, "bad frame"))


# -- 1. framing ------------------------------------------------------------------------------


def test_rfc6455_masked_text_example() -> None:
    # RFC 6455 §5.7: a single-frame masked text message containing "Hello".
    data = bytes.fromhex("818537fa213d7f9f4d5158")
    assert frame(TEXT, b"Hello") == data
    assert feed(data) == [WSMessage(WSMsgType.TEXT, "Hello", "")]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 128, 65535, 65536, 100_000])
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_payload_lengths(opcode: int, size: int) -> None:
    payload = b"*" * size
    (message,) = feed(frame(opcode, payload))
    assert message.data == (payload.decode() if opcode == TEXT else payload)


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_frames_split_anywhere(step: int) -> None:
    data = frame(TEXT, "héllo".encode()) + frame(BINARY, os.urandom(300)) + frame(PING, b"x")
    whole = feed(data)
    assert feed(data, step) == whole
    assert [m.type for m in whole] == [WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.PING]


@pytest.mark.parametrize("size", [126, 65536])
def test_extended_length_headers_fed_byte_by_byte(size: int) -> None:
    reader = FrameReader()
    data = frame(BINARY, b"z" * size)
    assert all(reader.feed(data[i : i + 1]) == [] for i in range(11))
    assert reader.feed(data[11:]) == [WSMessage(WSMsgType.BINARY, b"z" * size, "")]


def test_many_frames_in_one_chunk_come_back_in_order() -> None:
    data = b"".join(frame(BINARY, bytes([i])) for i in range(50))
    assert [m.data for m in feed(data)] == [bytes([i]) for i in range(50)]


def test_incomplete_frame_returns_nothing_until_complete() -> None:
    reader = FrameReader()
    data = frame(BINARY, b"x" * 300)
    assert reader.feed(data[:-1]) == []
    assert reader.feed(data[-1:]) == [WSMessage(WSMsgType.BINARY, b"x" * 300, "")]


def test_unmasked_client_frame_is_a_protocol_error() -> None:
    # RFC 6455 §5.1: a server must fail on an unmasked frame, as soon as it sees the bit.
    fails(build_frame(TEXT, b"Hello")[:2], WSCloseCode.PROTOCOL_ERROR)


def test_64_bit_length_with_high_bit_set_is_a_protocol_error() -> None:
    head = bytes([0x82, 0xFF]) + (1 << 63).to_bytes(8, "big") + MASK
    fails(head, WSCloseCode.PROTOCOL_ERROR, max_msg_size=0)


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 511, 512, 513, 4099])
def test_apply_mask_matches_the_definition(size: int) -> None:
    data = os.urandom(size)
    expected = bytes(b ^ MASK[i % 4] for i, b in enumerate(data))  # RFC 6455 §5.3
    assert apply_mask(data, MASK) == expected
    assert apply_mask(expected, MASK) == data


def test_apply_mask_needs_four_bytes() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        apply_mask(b"data", b"abc")


# -- 2. pings and pongs ----------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"Hello", b"\x00\xff" * 62 + b"!"])
def test_ping_and_pong_payloads_come_back(payload: bytes) -> None:
    assert feed(frame(PING, payload) + frame(PONG, payload)) == [
        WSMessage(WSMsgType.PING, payload, ""),
        WSMessage(WSMsgType.PONG, payload, ""),
    ]


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_control_frame_over_125_bytes_is_refused(opcode: int) -> None:
    # RFC 6455 §5.5; refused from the header alone, before the payload is read.
    data = frame(opcode, b"\x03\xe8" + b"x" * 124)
    fails(data[:8], WSCloseCode.PROTOCOL_ERROR)


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_fragmented_control_frame_is_refused(opcode: int) -> None:
    fails(frame(opcode, b"", fin=False), WSCloseCode.PROTOCOL_ERROR)


# -- 3. reserved bits ------------------------------------------------------------------------


@pytest.mark.parametrize("rsv", [0x40, 0x20, 0x10, 0x70])
@pytest.mark.parametrize("opcode", [TEXT, BINARY, PING, CLOSE])
def test_reserved_bits_without_extension(opcode: int, rsv: int) -> None:
    fails(frame(opcode, b"", rsv=rsv), WSCloseCode.PROTOCOL_ERROR)


@pytest.mark.parametrize("rsv", [0x20, 0x10])
def test_rsv2_rsv3_refused_even_with_deflate(rsv: int) -> None:
    fails(frame(TEXT, b"", rsv=rsv), WSCloseCode.PROTOCOL_ERROR, deflate=DeflateParams())


def test_messages_before_a_fault_are_kept_on_the_error() -> None:
    # Autobahn 3.2: a valid message, then a bad frame in the same read.
    error = fails(frame(TEXT, b"ok") + frame(PING, b"p") + frame(TEXT, b"", rsv=0x20), 1002)
    assert error.messages == [
        WSMessage(WSMsgType.TEXT, "ok", ""),
        WSMessage(WSMsgType.PING, b"p", ""),
    ]


def test_reader_stays_failed() -> None:
    reader = FrameReader()
    with pytest.raises(WebSocketProtocolError):
        reader.feed(frame(3))
    with pytest.raises(RuntimeError, match="already failed"):
        reader.feed(frame(TEXT, b"fine"))


def test_protocol_error_is_a_websocket_error() -> None:
    error = fails(frame(3), WSCloseCode.PROTOCOL_ERROR)
    assert isinstance(error, WebSocketError)
    assert str(error) == "Reserved opcode 3"


# -- 4. opcodes ------------------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
def test_reserved_opcodes(opcode: int) -> None:
    fails(frame(opcode, b"reserved"), WSCloseCode.PROTOCOL_ERROR)


# -- 5. fragmentation ------------------------------------------------------------------------


def test_rfc6455_fragmented_text_example() -> None:
    # RFC 6455 §5.7, masked here because it comes from a client.
    data = frame(TEXT, b"Hel", fin=False) + frame(CONT, b"lo")
    assert feed(data) == [WSMessage(WSMsgType.TEXT, "Hello", "")]


@pytest.mark.parametrize("step", [1, 5, None])
def test_control_frames_between_fragments(step: int | None) -> None:
    # Autobahn 5.6-5.9: control frames may be injected between fragments (RFC 6455 §5.4).
    data = (
        frame(BINARY, b"one", fin=False)
        + frame(PING, b"p")
        + frame(CONT, b"", fin=False)
        + frame(PONG, b"q")
        + frame(CONT, b"two")
    )
    assert feed(data, step) == [
        WSMessage(WSMsgType.PING, b"p", ""),
        WSMessage(WSMsgType.PONG, b"q", ""),
        WSMessage(WSMsgType.BINARY, b"onetwo", ""),
    ]


def test_empty_fragments() -> None:
    data = frame(TEXT, b"", fin=False) + frame(CONT, b"", fin=False) + frame(CONT, b"")
    assert feed(data) == [WSMessage(WSMsgType.TEXT, "", "")]


def test_continuation_without_a_message() -> None:
    fails(frame(CONT, b"x"), WSCloseCode.PROTOCOL_ERROR)
    fails(frame(TEXT, b"a") + frame(CONT, b"b"), WSCloseCode.PROTOCOL_ERROR)


def test_new_message_inside_a_fragmented_one() -> None:
    fails(frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"), WSCloseCode.PROTOCOL_ERROR)
    fails(frame(BINARY, b"a", fin=False) + frame(TEXT, b"b"), WSCloseCode.PROTOCOL_ERROR)


def test_messages_after_a_fragmented_one() -> None:
    data = frame(TEXT, b"a", fin=False) + frame(CONT, b"b") + frame(TEXT, b"c")
    assert [m.data for m in feed(data)] == ["ab", "c"]


def test_fragment_cap() -> None:
    fragments = frame(BINARY, b"x", fin=False) + frame(CONT, b"x", fin=False) * 2
    assert feed(fragments + frame(CONT, b"x"), max_fragments=4)[0].data == b"xxxx"
    error = fails(fragments + frame(CONT, b"x", fin=False) + frame(CONT), 1009, max_fragments=4)
    assert "4 fragments" in str(error)


# -- 6. UTF-8 --------------------------------------------------------------------------------

VALID_UTF8 = "κόσμε 𝄞 \u0000 \uffff \U0010ffff 中文".encode()
INVALID_UTF8 = [
    b"\x80",  # lone continuation byte
    b"\xc0\xaf",  # overlong "/"
    b"\xe0\x80\xaf",  # overlong, 3 bytes
    b"\xed\xa0\x80",  # UTF-16 surrogate U+D800
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"\xfe",
    b"\xff",
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",  # Autobahn 6.3.1
]


@pytest.mark.parametrize("step", [1, 2, 3, 5])
def test_valid_utf8_split_across_fragments_anywhere(step: int) -> None:
    chunks = [VALID_UTF8[i : i + step] for i in range(0, len(VALID_UTF8), step)]
    data = b"".join(frame(TEXT if i == 0 else CONT, c, fin=False) for i, c in enumerate(chunks))
    (message,) = feed(data + frame(CONT))
    assert message.data == VALID_UTF8.decode()


@pytest.mark.parametrize("payload", INVALID_UTF8)
def test_invalid_utf8_text(payload: bytes) -> None:
    fails(frame(TEXT, payload), WSCloseCode.INVALID_TEXT)
    split = frame(TEXT, payload[:1], fin=False) + frame(CONT, payload[1:])
    fails(split, WSCloseCode.INVALID_TEXT)


def test_truncated_utf8_at_the_end_of_a_message() -> None:
    fails(frame(TEXT, b"ok\xe2\x82"), WSCloseCode.INVALID_TEXT)
    fails(frame(TEXT, b"ok\xe2", fin=False) + frame(CONT, b"\x82"), WSCloseCode.INVALID_TEXT)


def test_invalid_utf8_fails_fast_before_the_message_ends() -> None:
    # Autobahn 6.4: the fault is reported by the fragment that holds it, even when the
    # invalid sequence starts in the previous fragment.
    reader = FrameReader()
    assert reader.feed(frame(TEXT, "κόσμε".encode() + b"\xf4", fin=False)) == []
    with pytest.raises(WebSocketProtocolError) as info:
        reader.feed(frame(CONT, b"\x90", fin=False))
    assert info.value.code == WSCloseCode.INVALID_TEXT


def test_binary_messages_are_not_decoded() -> None:
    assert feed(frame(BINARY, b"\xff\xfe"))[0].data == b"\xff\xfe"


# -- 7. close handling -----------------------------------------------------------------------


def test_close_without_payload() -> None:
    reader = FrameReader()
    assert reader.feed(frame(CLOSE)) == [WSMessage(WSMsgType.CLOSE, 0, "")]
    assert reader.closed


def test_close_with_code_and_reason() -> None:
    payload = (1001).to_bytes(2, "big") + "bye ☃".encode()
    assert feed(frame(CLOSE, payload)) == [WSMessage(WSMsgType.CLOSE, 1001, "bye ☃")]


def test_close_with_a_125_byte_payload() -> None:
    payload = (1000).to_bytes(2, "big") + b"r" * 123
    assert feed(frame(CLOSE, payload))[0].extra == "r" * 123


def test_close_payload_of_one_byte() -> None:
    fails(frame(CLOSE, b"\x03"), WSCloseCode.PROTOCOL_ERROR)


def test_close_reason_must_be_utf8() -> None:
    fails(frame(CLOSE, b"\x03\xe8" + b"\xed\xa0\x80"), WSCloseCode.INVALID_TEXT)


VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]
VALID_CODES += [3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


@pytest.mark.parametrize("code", VALID_CODES)
def test_valid_close_codes(code: int) -> None:
    assert is_valid_close_code(code)
    assert feed(frame(CLOSE, code.to_bytes(2, "big")))[0].data == code


@pytest.mark.parametrize("code", INVALID_CODES)
def test_invalid_close_codes(code: int) -> None:
    # RFC 6455 §7.4: Autobahn 7.9.
    assert not is_valid_close_code(code)
    fails(frame(CLOSE, code.to_bytes(2, "big")), WSCloseCode.PROTOCOL_ERROR)


def test_input_after_close_is_ignored() -> None:
    reader = FrameReader()
    messages = reader.feed(frame(CLOSE, b"\x03\xe8") + frame(TEXT, b"late") + b"\xff\xff")
    assert messages == [WSMessage(WSMsgType.CLOSE, 1000, "")]
    assert reader.feed(frame(TEXT, b"later")) == []


def test_close_between_fragments() -> None:
    data = frame(TEXT, b"part", fin=False) + frame(CLOSE, b"\x03\xe8")
    assert feed(data) == [WSMessage(WSMsgType.CLOSE, 1000, "")]


# -- 9. limits -------------------------------------------------------------------------------


def test_default_limit_is_aiohttps() -> None:
    assert DEFAULT_MAX_MSG_SIZE == 4 * 1024 * 1024


def test_message_of_exactly_the_limit_passes() -> None:
    assert feed(frame(BINARY, b"x" * 1000), max_msg_size=1000)[0].data == b"x" * 1000


def test_oversized_frame_is_refused_from_its_header() -> None:
    # Checked before buffering: only the header has arrived.
    header = frame(BINARY, b"x" * 1001)[:8]
    error = fails(header, WSCloseCode.MESSAGE_TOO_BIG, max_msg_size=1000)
    assert str(error) == "Message size exceeds the limit of 1000 bytes"


def test_huge_declared_length_is_refused_without_buffering() -> None:
    header = bytes([0x82, 0xFF]) + (2**40).to_bytes(8, "big") + MASK
    fails(header, WSCloseCode.MESSAGE_TOO_BIG)


def test_limit_applies_to_the_running_total_of_fragments() -> None:
    data = frame(BINARY, b"x" * 600, fin=False) + frame(PING) + frame(CONT, b"x" * 401)[:8]
    error = fails(data, WSCloseCode.MESSAGE_TOO_BIG, max_msg_size=1000)
    assert error.messages == [WSMessage(WSMsgType.PING, b"", "")]
    data = frame(TEXT, b"x" * 600, fin=False) + frame(CONT, b"x" * 400)
    assert len(feed(data, max_msg_size=1000)[0].data) == 1000


def test_zero_disables_the_limit() -> None:
    assert len(feed(frame(BINARY, b"x" * 5000), max_msg_size=0)[0].data) == 5000


def test_limit_is_per_message() -> None:
    data = frame(BINARY, b"x" * 800) + frame(BINARY, b"y" * 800)
    assert len(feed(data, max_msg_size=1000)) == 2


# -- 12/13. compression (RFC 7692) ------------------------------------------------------------

HELLO_DEFLATED = bytes.fromhex("f248cdc9c90700")  # RFC 7692 §7.2.3.1


@pytest.mark.parametrize(
    "frames",
    [
        # RFC 7692 §7.2.3.1: one frame, then the same message in two fragments.
        [(TEXT, True, 0x40, HELLO_DEFLATED)],
        [(TEXT, False, 0x40, HELLO_DEFLATED[:3]), (CONT, True, 0, HELLO_DEFLATED[3:])],
        # §7.2.3.3: a stored (uncompressed) deflate block.
        [(TEXT, True, 0x40, bytes.fromhex("000500faff48656c6c6f00"))],
        # §7.2.3.4: ended with a final (BFINAL) block instead of a sync flush.
        [(TEXT, True, 0x40, bytes.fromhex("f348cdc9c9070000"))],
        # §7.2.3.5: two deflate blocks in one message.
        [(TEXT, True, 0x40, bytes.fromhex("f248050000" + "00ffff" + "cac9c90700"))],
    ],
)
def test_rfc7692_examples(frames: list[tuple[int, bool, int, bytes]]) -> None:
    data = b"".join(frame(op, payload, fin=fin, rsv=rsv) for op, fin, rsv, payload in frames)
    assert feed(data, deflate=DeflateParams()) == [WSMessage(WSMsgType.TEXT, "Hello", "")]


def test_rfc7692_context_takeover_example() -> None:
    # §7.2.3.2: the second "Hello" refers back into the first message.
    data = frame(TEXT, HELLO_DEFLATED, rsv=0x40) + frame(
        TEXT, bytes.fromhex("f200110000"), rsv=0x40
    )
    assert [m.data for m in feed(data, deflate=DeflateParams())] == ["Hello", "Hello"]


def test_empty_compressed_message() -> None:
    # §7.2.3.6: a single 0x00 byte.
    assert feed(frame(BINARY, b"\x00", rsv=0x40), deflate=DeflateParams())[0].data == b""


def test_uncompressed_messages_still_allowed_with_deflate() -> None:
    data = frame(TEXT, b"plain") + compressed(TEXT, b"packed") + frame(BINARY, b"raw")
    assert [m.data for m in feed(data, deflate=DeflateParams())] == ["plain", "packed", b"raw"]


def test_compressed_fragmented_message_split_anywhere() -> None:
    text = ("permessage-deflate " * 200).encode()
    body = deflate(text)
    data = frame(TEXT, body[:10], fin=False, rsv=0x40) + frame(PING, b"!")
    data += frame(CONT, body[10:20], fin=False) + frame(CONT, body[20:])
    for step in (1, 13, None):
        messages = feed(data, step, deflate=DeflateParams())
        assert [m.data for m in messages] == [b"!", text.decode()]


def test_rsv1_on_a_continuation_frame() -> None:
    data = frame(TEXT, deflate(b"ab")[:1], fin=False, rsv=0x40)
    data += frame(CONT, deflate(b"ab")[1:], rsv=0x40)
    fails(data, WSCloseCode.PROTOCOL_ERROR, deflate=DeflateParams())


def test_rsv1_on_a_control_frame_with_deflate() -> None:
    fails(frame(PING, b"", rsv=0x40), WSCloseCode.PROTOCOL_ERROR, deflate=DeflateParams())


def test_invalid_deflate_data() -> None:
    fails(frame(BINARY, b"\xff\xff\xff\xff", rsv=0x40), 1007, deflate=DeflateParams())


def test_data_after_a_final_deflate_block() -> None:
    payload = bytes.fromhex("f348cdc9c90700") + b"junk"
    fails(frame(TEXT, payload, rsv=0x40), 1007, deflate=DeflateParams())
    fragments = frame(TEXT, bytes.fromhex("f348cdc9c90700"), fin=False, rsv=0x40)
    fails(fragments + frame(CONT, HELLO_DEFLATED), 1007, deflate=DeflateParams())


def test_final_deflate_block_then_more_messages() -> None:
    # After a message ended by a BFINAL block the next one starts a fresh stream.
    data = frame(TEXT, bytes.fromhex("f348cdc9c9070000"), rsv=0x40)
    data += frame(TEXT, HELLO_DEFLATED, rsv=0x40) + frame(
        TEXT, bytes.fromhex("f200110000"), rsv=0x40
    )
    assert [m.data for m in feed(data, deflate=DeflateParams())] == ["Hello"] * 3


def test_invalid_utf8_inside_compressed_text() -> None:
    fails(compressed(TEXT, b"ok \xed\xa0\x80"), WSCloseCode.INVALID_TEXT, deflate=DeflateParams())


def test_inflated_size_is_limited() -> None:
    data = compressed(BINARY, b"a" * 1001)
    assert len(data) < 100
    fails(data, WSCloseCode.MESSAGE_TOO_BIG, deflate=DeflateParams(), max_msg_size=1000)
    assert len(feed(data, deflate=DeflateParams(), max_msg_size=1001)[0].data) == 1001


def test_inflated_size_without_a_limit() -> None:
    data = compressed(BINARY, bytes(DEFAULT_MAX_MSG_SIZE + 1))
    (message,) = feed(data, deflate=DeflateParams(), max_msg_size=0)
    assert len(message.data) == DEFAULT_MAX_MSG_SIZE + 1


def test_inflated_size_is_a_running_total_across_fragments() -> None:
    body = deflate(b"a" * 1500)
    data = frame(BINARY, body[:5], fin=False, rsv=0x40) + frame(CONT, body[5:])
    fails(data, WSCloseCode.MESSAGE_TOO_BIG, deflate=DeflateParams(), max_msg_size=1000)


def test_decompression_bomb_is_refused_without_inflating_it() -> None:
    # 256 MiB of zeros deflate to about 250 KB: one frame, well under the wire limit.
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(256))
    bomb += compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]
    data = frame(BINARY, bomb, rsv=0x40)
    assert len(data) < DEFAULT_MAX_MSG_SIZE // 8
    tracemalloc.start()
    try:
        fails(data, WSCloseCode.MESSAGE_TOO_BIG, deflate=DeflateParams())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * DEFAULT_MAX_MSG_SIZE  # never the 256 MiB


def test_compressed_wire_size_is_limited_before_buffering() -> None:
    header = frame(BINARY, os.urandom(2000), rsv=0x40)[:8]
    fails(header, WSCloseCode.MESSAGE_TOO_BIG, deflate=DeflateParams(), max_msg_size=1000)


def test_incompressible_message_at_the_limit_passes() -> None:
    # Compressed random data is a few bytes larger than the data itself.
    data = os.urandom(100_000)
    body = deflate(data)
    assert len(body) > len(data)
    message = feed(frame(BINARY, body, rsv=0x40), deflate=DeflateParams(), max_msg_size=100_000)
    assert message[0].data == data


def test_inbound_context_takeover() -> None:
    # One compressor for every message: later messages refer back into earlier ones.
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    text = os.urandom(200).hex().encode()
    first, second = deflate(text, compressor), deflate(text, compressor)
    assert len(second) < len(first) // 4
    data = frame(TEXT, first, rsv=0x40) + frame(TEXT, second, rsv=0x40)
    assert [m.data for m in feed(data, deflate=DeflateParams())] == [text.decode()] * 2


def test_inbound_no_context_takeover_resets_the_inflater() -> None:
    text = b"no context takeover " * 20
    params = DeflateParams(client_no_context_takeover=True)
    data = compressed(TEXT, text) * 3
    assert [m.data for m in feed(data, deflate=params)] == [text.decode()] * 3
    # With the window dropped, a back-reference into the previous message is invalid.
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    data = frame(TEXT, deflate(text, compressor), rsv=0x40)
    data += frame(TEXT, deflate(text, compressor), rsv=0x40)
    fails(data, 1007, deflate=params)


# -- the writer ------------------------------------------------------------------------------


def test_writer_rfc6455_examples() -> None:
    writer = FrameWriter()
    assert writer.text("Hello") == bytes.fromhex("810548656c6c6f")  # §5.7
    assert writer.ping(b"Hello") == bytes.fromhex("890548656c6c6f")
    assert writer.pong(b"Hello") == bytes.fromhex("8a0548656c6c6f")
    assert writer.binary(bytes(256)) == b"\x82\x7e\x01\x00" + bytes(256)
    assert writer.binary(bytes(65536)) == b"\x82\x7f" + (65536).to_bytes(8, "big") + bytes(65536)


@pytest.mark.parametrize(
    ("size", "header"),
    [
        (0, b"\x82\x00"),
        (125, b"\x82\x7d"),
        (126, b"\x82\x7e\x00\x7e"),
        (65535, b"\x82\x7e\xff\xff"),
        (65536, b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_writer_length_encodings(size: int, header: bytes) -> None:
    assert FrameWriter().binary(b"z" * size) == header + b"z" * size


def test_writer_close_frames() -> None:
    writer = FrameWriter()
    assert writer.close() == b"\x88\x02\x03\xe8"
    assert writer.close(WSCloseCode.GOING_AWAY, "bye") == b"\x88\x05\x03\xe9bye"
    assert writer.close(4000, b"app") == b"\x88\x05\x0f\xa0app"
    assert writer.close(None) == writer.close(0) == b"\x88\x00"


@pytest.mark.parametrize("code", [-1, 65536])
def test_writer_refuses_close_codes_that_do_not_fit(code: int) -> None:
    with pytest.raises(ValueError, match=f"Close code {code} does not fit"):
        FrameWriter().close(code)


@pytest.mark.parametrize("code", [999, 1005, 1015, 5000, 65535])
def test_writer_sends_reserved_close_codes_as_aiohttp(code: int) -> None:
    assert FrameWriter().close(code, b"r") == b"\x88\x03" + code.to_bytes(2, "big") + b"r"


def test_writer_refuses_oversized_control_frames() -> None:
    writer = FrameWriter()
    assert len(writer.close(1000, "r" * 123)) == 127
    with pytest.raises(ValueError, match="123 bytes"):
        writer.close(1000, "r" * 124)
    with pytest.raises(ValueError, match="125 bytes"):
        writer.ping(b"p" * 126)
    with pytest.raises(ValueError, match="needs a close code"):
        writer.close(None, "reason")


@pytest.mark.parametrize("opcode", [0, 3, 11, 256])
def test_writer_refuses_other_opcodes(opcode: int) -> None:
    with pytest.raises(ValueError, match="opcode"):
        FrameWriter().frame(b"", opcode)


def test_writer_frame_is_aiohttps_send_frame() -> None:
    writer = FrameWriter()
    assert writer.frame(b"Hello", WSMsgType.TEXT) == writer.text("Hello")
    assert writer.frame(b"\x03\xe8", WSMsgType.CLOSE) == writer.close()


def test_writer_rfc7692_examples() -> None:
    writer = FrameWriter(deflate=DeflateParams())
    assert writer.text("Hello") == bytes.fromhex("c107") + HELLO_DEFLATED  # §7.2.3.1
    assert writer.text("Hello") == bytes.fromhex("c105f200110000")  # §7.2.3.2
    assert writer.binary(b"") == b"\xc2\x01\x00"  # §7.2.3.6


def test_writer_never_compresses_control_frames() -> None:
    writer = FrameWriter(deflate=DeflateParams())
    assert writer.ping(b"Hello") == bytes.fromhex("890548656c6c6f")
    assert writer.close() == b"\x88\x02\x03\xe8"


def test_writer_outbound_context_takeover() -> None:
    writer = FrameWriter(deflate=DeflateParams())
    inflater = zlib.decompressobj(-15)  # the client keeps its window between messages
    text = os.urandom(200).hex()
    frames = [writer.text(text) for _ in range(3)]
    assert len(frames[1]) < len(frames[0]) // 4
    assert [inflate(unframe(f), inflater).decode() for f in frames] == [text] * 3


def test_writer_outbound_no_context_takeover() -> None:
    writer = FrameWriter(deflate=DeflateParams(server_no_context_takeover=True))
    text = "outbound no takeover " * 30
    first, second = writer.text(text), writer.text(text)
    assert first == second
    assert inflate(unframe(first)) == text.encode()


def test_writer_window_bits_follow_the_negotiation() -> None:
    data = os.urandom(1000) * 5  # repeats beyond a 512-byte window, within a 32 KiB one
    small = FrameWriter(deflate=DeflateParams(server_max_window_bits=9)).binary(data)
    large = FrameWriter(deflate=DeflateParams(server_max_window_bits=15)).binary(data)
    # An inflater with a 512-byte window fails on any reference further back.
    assert inflate(unframe(small), zlib.decompressobj(-9)) == data
    assert len(unframe(small)) > 4000 and len(unframe(large)) < 2000


def test_writer_per_message_compress_keeps_the_client_window_consistent() -> None:
    # aiohttp's send_str(..., compress=bits) uses a fresh context for that message; the
    # next message must not refer back past it, or the client's inflater goes wrong.
    writer = FrameWriter(deflate=DeflateParams())
    inflater = zlib.decompressobj(-15)
    texts = ["alpha " * 40, "beta " * 40, "alpha " * 40, "beta " * 40]
    frames = [writer.text(texts[0]), writer.text(texts[1], compress=10)]
    frames += [writer.text(texts[2]), writer.text(texts[3])]
    decoded = [inflate(unframe(f), inflater).decode() for f in frames]
    assert decoded == texts
    with pytest.raises(ValueError, match="9..15"):
        writer.text("x", compress=8)


def test_writer_ignores_compress_without_deflate() -> None:
    assert FrameWriter().text("Hello", compress=15) == bytes.fromhex("810548656c6c6f")


def test_writer_to_reader_round_trip_with_deflate() -> None:
    # The reader wants masked frames: mask the writer's output as a client would.
    params = DeflateParams()
    writer, reader = FrameWriter(deflate=params), FrameReader(deflate=params)
    for text in ["", "a", "round trip " * 500, "κόσμε"]:
        out = writer.text(text)
        client = build_frame(TEXT, unframe(out), rsv1=bool(out[0] & 0x40), mask=MASK)
        assert reader.feed(client) == [WSMessage(WSMsgType.TEXT, text, "")]


# -- wsproto as an independent client ----------------------------------------------------------


def wsproto_client(extension_response: str | None = None) -> Any:
    frame_protocol = pytest.importorskip("wsproto.frame_protocol")
    extensions: list[Any] = []
    if extension_response is not None:
        from wsproto.extensions import PerMessageDeflate

        deflate_extension = PerMessageDeflate()
        deflate_extension.finalize(extension_response)
        extensions.append(deflate_extension)
    return frame_protocol.FrameProtocol(client=True, extensions=extensions)


def test_wsproto_client_frames() -> None:
    client = wsproto_client()
    data = client.send_data("fragmented ", fin=False) + client.ping(b"p")
    data += client.send_data("text", fin=True) + client.send_data(os.urandom(70_000))
    data += client.close(1001, "going")
    messages = feed(data, 4096)
    assert [m.type for m in messages] == [
        WSMsgType.PING,
        WSMsgType.TEXT,
        WSMsgType.BINARY,
        WSMsgType.CLOSE,
    ]
    assert messages[1].data == "fragmented text"
    assert (messages[3].data, messages[3].extra) == (1001, "going")


@pytest.mark.parametrize(
    "response",
    ["permessage-deflate", "permessage-deflate; client_no_context_takeover"],
)
def test_wsproto_client_compressed_frames(response: str) -> None:
    client = wsproto_client(response)
    params = DeflateParams(client_no_context_takeover="client_no" in response)
    texts = ["hello " * 100, "hello " * 100, "κόσμε", ""]
    data = b"".join(client.send_data(t) for t in texts)
    data += client.send_data(b"part one ", fin=False) + client.send_data(b"part two")
    messages = feed(data, 7, deflate=params)
    assert [m.data for m in messages] == [*texts, b"part one part two"]


@pytest.mark.parametrize(
    "params",
    [DeflateParams(), DeflateParams(server_no_context_takeover=True, server_max_window_bits=10)],
)
def test_wsproto_client_reads_our_frames(params: DeflateParams) -> None:
    response = "permessage-deflate"
    if params.server_no_context_takeover:
        response += "; server_no_context_takeover; server_max_window_bits=10"
    client = wsproto_client(response)
    writer = FrameWriter(deflate=params)
    texts = ["hello " * 100, "hello " * 100, ""]
    client.receive_bytes(b"".join(writer.text(t) for t in texts) + writer.binary(b"\x00" * 9000))
    client.receive_bytes(writer.ping(b"p") + writer.close(1000, "done"))
    frames = list(client.received_frames())
    assert [f.payload for f in frames[:3]] == texts
    assert frames[3].payload == b"\x00" * 9000
    assert frames[4].payload == b"p"
    assert tuple(frames[5].payload) == (1000, "done")


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_every_small_frame_size_and_mask_decodes_in_one_read(kind: type) -> None:
    # Whole small frames take feed_one's shortcut: every payload size, random masks and
    # payloads, and every buffer type a transport may hand over.
    reader = FrameReader()
    for size in range(126):
        payload = os.urandom(size)
        mask = os.urandom(4)
        data = build_frame(BINARY, payload, mask=mask)
        assert reader.feed_one(kind(data)) == (WSMsgType.BINARY, payload, "")
        text = ("é" * size)[: size // 2].encode()
        data = build_frame(TEXT, text, mask=mask)
        assert reader.feed(kind(data)) == [(WSMsgType.TEXT, text.decode(), "")]
