"""The writer's fast case (a small frame sent as it is: a cached head and the payload) is
the general path's bytes, and both are RFC 6455 §5.2's, for every size that changes the
length encoding, every opcode, with and without compression, FIN, RSV1 and a mask."""

from __future__ import annotations

import asyncio
import itertools
import zlib

import pytest

from asgiweb.http.ws_handshake import DeflateParams
from asgiweb.ws_types import WSMsgType
from native_server.websocket import NativeWebSocket
from native_server.wire.websocket import FrameWriter, build_frame

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 70000]
DATA = [WSMsgType.TEXT, WSMsgType.BINARY]
CONTROL = [WSMsgType.CLOSE, WSMsgType.PING, WSMsgType.PONG]
OPCODES = DATA + CONTROL
MASK = b"\x37\xfa\x21\x3d"


def reference(
    opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False, mask: bytes = b""
) -> bytes:
    """RFC 6455 §5.2, written out plainly."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    masked = 0x80 if mask else 0
    size = len(payload)
    if size <= 125:
        length = bytes([masked | size])
    elif size <= 0xFFFF:
        length = bytes([masked | 126]) + size.to_bytes(2, "big")
    else:
        length = bytes([masked | 127]) + size.to_bytes(8, "big")
    body = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload)) if mask else payload
    return bytes([first]) + length + mask + body


def deflated(payload: bytes) -> bytes:
    """RFC 7692 §7.2.1 with a fresh context: compress, sync-flush, drop the empty block."""
    compressor = zlib.compressobj(zlib.Z_BEST_SPEED, zlib.DEFLATED, -15)
    out = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4] or b"\x00"


def payload_of(size: int) -> bytes:
    return bytes(i * 7 % 251 for i in range(size))


@pytest.mark.parametrize(("size", "opcode"), list(itertools.product(SIZES, OPCODES)))
def test_fast_case_is_the_general_path(size: int, opcode: int) -> None:
    payload = payload_of(size)
    expected = reference(opcode, payload)
    assert FrameWriter().encode(payload, opcode) == expected
    assert build_frame(opcode, payload) == expected
    if opcode in DATA or size <= 125:
        assert FrameWriter().frame(payload, opcode) == expected


@pytest.mark.parametrize("opcode", OPCODES)
def test_every_cached_head(opcode: int) -> None:
    writer = FrameWriter()
    for size in range(126):
        assert writer.encode(b"a" * size, opcode) == reference(opcode, b"a" * size)


@pytest.mark.parametrize(
    ("size", "opcode", "fin", "rsv1", "mask"),
    list(itertools.product(SIZES, OPCODES, [True, False], [False, True], [b"", MASK])),
)
def test_general_path_with_fin_rsv1_and_mask(
    size: int, opcode: int, fin: bool, rsv1: bool, mask: bytes
) -> None:
    payload = payload_of(size)
    frame = build_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=mask or None)
    assert frame == reference(opcode, payload, fin=fin, rsv1=rsv1, mask=mask)


@pytest.mark.parametrize(("size", "opcode"), list(itertools.product(SIZES, OPCODES)))
def test_under_deflate(size: int, opcode: int) -> None:
    # A fresh context per message, so that each frame can be predicted on its own.
    writer = FrameWriter(deflate=DeflateParams(server_no_context_takeover=True))
    payload = payload_of(size)
    if opcode in DATA:
        expected = reference(opcode, deflated(payload), rsv1=True)
    else:
        expected = reference(opcode, payload)  # control frames are never compressed
    assert writer.encode(payload, opcode) == expected
    if opcode in DATA or size <= 125:
        assert writer.frame(payload, opcode) == expected


class _Protocol:
    _transport = None
    _write_paused = False

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.written: list[bytes] = []
        self.write = self.written.append


@pytest.mark.parametrize("deflate", [None, DeflateParams(server_no_context_takeover=True)])
def test_the_native_channel_sends_the_same_bytes(deflate: DeflateParams | None) -> None:
    async def run() -> None:
        protocol = _Protocol()
        channel = NativeWebSocket(
            protocol,  # type: ignore[arg-type]
            deflate=deflate,
            max_msg_size=0,
            writer_limit=65536,
            read_limit=65536,
        )
        writer = FrameWriter(deflate=deflate)
        expected = []
        for size, opcode in itertools.product(SIZES, OPCODES):
            payload = payload_of(size)
            await channel.send(payload, opcode)
            expected.append(writer.encode(payload, opcode))
        await channel.send("héllo", WSMsgType.TEXT)
        expected.append(writer.text("héllo"))
        await channel.close(4000, b"bye")
        expected.append(writer.close(4000, b"bye"))
        assert protocol.written == expected

    asyncio.run(run())
