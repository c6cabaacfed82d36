"""The native server's WebSocket path, byte by byte over a raw loopback socket.

Grouped like the Autobahn TestSuite cases: framing, pings/pongs, reserved bits, opcodes,
fragmentation, UTF-8, close handling, limits, compression; then the handshake, the
heartbeat, flow control and the memory of idle connections. Client frames are built
and server frames parsed here by hand, independently of the codec under test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from servers import RunningServer, serve

from asgiweb import web

WSMsgType = web.WSMsgType
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10
observed: dict[str, Any] = {}


# -- the server -----------------------------------------------------------------------------
async def echo(request: web.Request) -> web.WebSocketResponse:
    """Echoes TEXT and BINARY; records how the WebSocket ended under ``?id=``."""
    options: dict[str, Any] = {}
    if "max" in request.query:
        options["max_msg_size"] = int(request.query["max"])
    if "nocompress" in request.query:
        options["compress"] = False
    if "heartbeat" in request.query:
        options["heartbeat"] = float(request.query["heartbeat"])
    for flag in ("autoping", "autoclose"):
        options[flag] = flag not in request.query
    ws = web.WebSocketResponse(**options)
    await asyncio.sleep(float(request.query.get("delay", 0)))
    await ws.prepare(request)
    messages = []
    async for msg in ws:
        messages.append((msg.type, msg.data))
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    if not ws.closed:  # autoclose=False: the CLOSE ended the loop, the reply is ours
        messages.append(((await ws.receive()).type, ws.close_code))
        await ws.send_str("one more before closing")
    observed[request.query.get("id", "")] = (messages, ws.close_code, ws.exception())
    return ws


async def close_first(request: web.Request) -> web.WebSocketResponse:
    """Starts the closing handshake and waits ``timeout`` for the reply."""
    ws = web.WebSocketResponse(timeout=float(request.query["timeout"]))
    await ws.prepare(request)
    started = time.monotonic()
    await ws.close(code=4001, message="server leaves")
    observed[request.query["id"]] = (ws.close_code, ws.exception(), time.monotonic() - started)
    return ws


async def lazy_reader(request: web.Request) -> web.WebSocketResponse:
    """Reads nothing for a while, then everything: flow control has to hold the rest."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await asyncio.sleep(0.5)
    reading = request.transport.is_reading()
    total = 0
    while total < int(request.query["expect"]):
        total += len(await ws.receive_bytes())
    await ws.send_json({"was_reading": reading, "total": total})
    await ws.close()
    return ws


async def fast_writer(request: web.Request) -> web.WebSocketResponse:
    """Sends far more than the client reads: send_bytes must wait (writer_limit)."""
    ws = web.WebSocketResponse(writer_limit=64 * 1024)
    await ws.prepare(request)
    buffered = []
    for _ in range(64):
        await ws.send_bytes(b"x" * 128 * 1024)
        buffered.append(request.transport.get_write_buffer_size())
    observed["fast_writer"] = max(buffered)
    await ws.close()
    return ws


def conformance_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/lazy", lazy_reader)
    app.router.add_get("/close-first", close_first)
    app.router.add_get("/flood", fast_writer)
    return app


@pytest.fixture(scope="module", params=["asyncio", "uvloop"])
def server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """The server on each event loop: on uvloop the protocol is a plain one (on asyncio's
    a buffered one), and the channel must take its reads over either way."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    with serve(conformance_app(), "native", loop=request.param) as running:
        yield running


# -- a raw client ---------------------------------------------------------------------------
def client_frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, mask: bytes | None = None
) -> bytes:
    """A masked client frame (RFC 6455 §5.2), built by hand."""
    key = os.urandom(4) if mask is None else mask
    first = (0x80 if fin else 0) | rsv | opcode
    size = len(payload)
    if size < 126:
        head = bytes((first, 0x80 | size))
    elif size < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, size)
    if key == b"\0\0\0\0":
        return head + key + payload  # XOR with zero: cheap for bulk data
    mask_int = int.from_bytes(key * (size // 4 + 1), "big") >> (8 * (4 - size % 4))
    masked = (int.from_bytes(payload, "big") ^ mask_int).to_bytes(size, "big") if size else b""
    return head + key + masked


def deflate(data: bytes) -> bytes:
    """One permessage-deflate message body (RFC 7692 §7.2.1): a fresh context each time."""
    compressor = zlib.compressobj(wbits=-15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate(data: bytes) -> bytes:
    return zlib.decompressobj(wbits=-15).decompress(data + b"\x00\x00\xff\xff")


class RawClient:
    """A WebSocket client that writes what it is told and parses replies itself."""

    def __init__(self, server: RunningServer, path: str = "/echo", extra: str = "") -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extra}\r\n"
        ).encode()
        self.buffer = b""

    def handshake(self, first_frames: bytes = b"") -> RawClient:
        self.sock.sendall(self.request + first_frames)
        self.status, self.headers, _ = self.read_head()
        assert self.status == 101, self.status
        return self

    def read_head(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed during the handshake"
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(self.buffer) < length:
                self.buffer += self.sock.recv(65536)
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(lines[0].split()[1]), headers, body

    def send(self, *frames: bytes) -> None:
        self.sock.sendall(b"".join(frames))

    def _fill(self, size: int) -> bool:
        while len(self.buffer) < size:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return False
            self.buffer += chunk
        return True

    def recv(self) -> tuple[int, int, bytes] | None:
        """(first byte, opcode, payload) of the next server frame; None at EOF."""
        if not self._fill(2):
            return None
        first, second = self.buffer[0], self.buffer[1]
        assert not second & 0x80, "server frames are never masked (RFC 6455 §5.1)"
        size, start = second & 0x7F, 2
        if size == 126:
            self._fill(4)
            size, start = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif size == 127:
            self._fill(10)
            size, start = struct.unpack("!Q", self.buffer[2:10])[0], 10
        assert self._fill(start + size), "EOF inside a frame"
        payload, self.buffer = self.buffer[start : start + size], self.buffer[start + size :]
        return first, first & 0x0F, payload

    def expect(self, opcode: int, payload: bytes | None = None) -> bytes:
        frame = self.recv()
        assert frame is not None, "connection closed"
        assert frame[1] == opcode, frame
        if payload is not None:
            assert frame[2] == payload
        return frame[2]

    def expect_close(self, code: int) -> str:
        """The server's close frame with ``code``, then the end of the connection."""
        payload = self.expect(CLOSE)
        assert struct.unpack("!H", payload[:2])[0] == code, payload
        assert self.recv() is None, "the connection must end after the close frame"
        return payload[2:].decode()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def ws(server: RunningServer) -> Iterator[RawClient]:
    client = RawClient(server).handshake()
    yield client
    client.close()


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


# -- 1. framing -------------------------------------------------------------------------------
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 1 << 20])
def test_framing_sizes_echo(ws: RawClient, opcode: int, size: int) -> None:
    payload = b"*" * size
    ws.send(client_frame(opcode, payload))
    first, got, data = ws.recv()  # type: ignore[misc]
    assert (first, got, data) == (0x80 | opcode, opcode, payload)


def test_framing_many_frames_in_one_write_and_one_frame_in_many(ws: RawClient) -> None:
    ws.send(*(client_frame(TEXT, str(i).encode()) for i in range(100)))
    assert [ws.expect(TEXT) for _ in range(100)] == [str(i).encode() for i in range(100)]
    frame = client_frame(BINARY, b"trickled" * 100)
    for i in range(0, len(frame), 7):  # the codec must wait for the rest of the frame
        ws.send(frame[i : i + 7])
        time.sleep(0.001)
    ws.expect(BINARY, b"trickled" * 100)


def test_framing_first_frames_arrive_with_the_handshake(server: RunningServer) -> None:
    client = RawClient(server).handshake(client_frame(TEXT, b"early") + client_frame(PING, b"p"))
    client.expect(TEXT, b"early")
    client.expect(PONG, b"p")
    client.close()


def test_framing_frames_sent_before_the_handler_upgrades_are_kept(server: RunningServer) -> None:
    client = RawClient(server, "/echo?delay=0.3")
    client.send(client.request)
    time.sleep(0.05)  # the head is parsed; the handler sleeps before prepare()
    big = b"b" * 300_000  # more than read_bufsize: the server stops reading meanwhile
    client.send(client_frame(TEXT, b"early"), client_frame(BINARY, big), client_frame(PING))
    assert client.read_head()[0] == 101
    client.expect(TEXT, b"early")
    client.expect(BINARY, big)
    client.expect(PONG, b"")
    client.close()


def test_framing_unmasked_client_frame_is_refused(ws: RawClient) -> None:
    ws.send(bytes((0x81, 2)) + b"hi")  # RFC 6455 §5.1: a server must fail this
    ws.expect_close(1002)


# -- 2. pings and pongs -----------------------------------------------------------------------
@pytest.mark.parametrize("payload", [b"", b"ping", b"\xff" * 125])
def test_ping_gets_a_pong_with_its_payload(ws: RawClient, payload: bytes) -> None:
    ws.send(client_frame(PING, payload))
    ws.expect(PONG, payload)


def test_ten_pings_ten_pongs_and_unsolicited_pongs_ignored(ws: RawClient) -> None:
    ws.send(client_frame(PONG, b"unasked"), *(client_frame(PING, bytes([i])) for i in range(10)))
    for i in range(10):
        ws.expect(PONG, bytes([i]))
    ws.send(client_frame(TEXT, b"still here"))
    ws.expect(TEXT, b"still here")


@pytest.mark.parametrize(
    "frame",
    [client_frame(PING, b"x" * 126), client_frame(PING, b"x", fin=False)],
    ids=["ping-126-bytes", "fragmented-ping"],
)
def test_bad_pings_fail_the_connection(ws: RawClient, frame: bytes) -> None:
    ws.send(frame)
    ws.expect_close(1002)


# -- 3. reserved bits -------------------------------------------------------------------------
@pytest.mark.parametrize("rsv", [RSV1, RSV2, RSV3, RSV1 | RSV2 | RSV3])
@pytest.mark.parametrize("opcode", [TEXT, PING])
def test_reserved_bits_fail_the_connection(ws: RawClient, rsv: int, opcode: int) -> None:
    ws.send(client_frame(opcode, b"rsv", rsv=rsv))  # no extension was negotiated
    ws.expect_close(1002)


# -- 4. opcodes -------------------------------------------------------------------------------
@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_fail_the_connection(ws: RawClient, opcode: int) -> None:
    ws.send(client_frame(TEXT, b"before"), client_frame(opcode, b"x"))
    ws.expect(TEXT, b"before")
    ws.expect_close(1002)


# -- 5. fragmentation -------------------------------------------------------------------------
def test_fragmented_message_with_a_ping_inside(ws: RawClient) -> None:
    ws.send(
        client_frame(TEXT, b"frag", fin=False),
        client_frame(0, b"", fin=False),
        client_frame(PING, b"between"),
        client_frame(0, b"ment", fin=False),
        client_frame(0, b"ed", fin=True),
    )
    ws.expect(PONG, b"between")  # control frames may interleave (RFC 6455 §5.4)
    ws.expect(TEXT, b"fragmented")


@pytest.mark.parametrize(
    "frames",
    [
        [client_frame(0, b"orphan")],
        [client_frame(TEXT, b"a", fin=False), client_frame(TEXT, b"b")],
        [client_frame(BINARY, b"a", fin=False), client_frame(0, b"b", fin=False, rsv=RSV1)],
    ],
    ids=["continuation-without-start", "data-inside-fragmented", "rsv1-on-continuation"],
)
def test_bad_fragmentation_fails_the_connection(ws: RawClient, frames: list[bytes]) -> None:
    ws.send(*frames)
    ws.expect_close(1002)


# -- 6. UTF-8 ---------------------------------------------------------------------------------
def test_utf8_split_inside_a_code_point_is_reassembled(ws: RawClient) -> None:
    text = "κόσμε — 🌍".encode()
    ws.send(client_frame(TEXT, text[:2], fin=False), client_frame(0, text[2:13], fin=False))
    ws.send(client_frame(0, text[13:]))
    ws.expect(TEXT, text)


@pytest.mark.parametrize("payload", [b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"ok\xf4\x90\x80\x80"])
def test_invalid_utf8_fails_with_1007(ws: RawClient, payload: bytes) -> None:
    ws.send(client_frame(TEXT, payload))
    ws.expect_close(1007)


def test_invalid_utf8_fails_fast_before_the_message_ends(ws: RawClient) -> None:
    ws.send(client_frame(TEXT, b"valid then \xce\xba\xff", fin=False))  # no final fragment
    ws.expect_close(1007)


# -- 7. close handling ------------------------------------------------------------------------
@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1011, 1014, 3000, 4999])
def test_valid_close_codes_get_a_close_reply(server: RunningServer, code: int) -> None:
    client = RawClient(server, f"/echo?id=close{code}").handshake()
    client.send(client_frame(CLOSE, close_payload(code, b"reason")))
    client.expect_close(1000)
    client.close()
    wait_for_observed(f"close{code}")
    messages, close_code, _ = observed[f"close{code}"]
    assert close_code == code
    assert messages == []  # CLOSE ends `async for`


def test_empty_close_frame_gets_a_reply(server: RunningServer) -> None:
    client = RawClient(server, "/echo?id=close-empty").handshake()
    client.send(client_frame(CLOSE))
    client.expect_close(1000)
    client.close()
    wait_for_observed("close-empty")
    assert observed["close-empty"][1] == 0  # as aiohttp: no code in the frame reads as 0


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_invalid_close_codes_fail_with_1002(ws: RawClient, code: int) -> None:
    ws.send(client_frame(CLOSE, close_payload(code)))
    ws.expect_close(1002)


@pytest.mark.parametrize(
    ("payload", "code"), [(b"\x03", 1002), (close_payload(1000, b"\xff\xfe"), 1007)]
)
def test_malformed_close_frames(ws: RawClient, payload: bytes, code: int) -> None:
    ws.send(client_frame(CLOSE, payload))
    ws.expect_close(code)


def test_server_close_waits_for_the_reply(server: RunningServer) -> None:
    client = RawClient(server, "/close-first?timeout=5&id=replied").handshake()
    assert client.expect(CLOSE) == close_payload(4001, b"server leaves")
    client.send(client_frame(TEXT, b"ignored"), client_frame(CLOSE, close_payload(1000)))
    assert client.recv() is None  # the handshake is complete: the server ends the connection
    client.close()
    wait_for_observed("replied")
    code, exc, elapsed = observed["replied"]
    assert (code, exc) == (1000, None) and elapsed < 1


def test_server_close_gives_up_after_timeout(server: RunningServer) -> None:
    client = RawClient(server, "/close-first?timeout=0.2&id=unanswered").handshake()
    client.expect(CLOSE)
    assert client.recv() is None  # never answered: dropped after `timeout`
    client.close()
    wait_for_observed("unanswered")
    code, exc, elapsed = observed["unanswered"]
    assert code == 1006 and isinstance(exc, TimeoutError) and 0.15 < elapsed < 1


def test_autoping_off_hands_pings_to_the_application(server: RunningServer) -> None:
    client = RawClient(server, "/echo?autoping=0&id=noautoping").handshake()
    client.send(client_frame(PING, b"p"), client_frame(PONG, b"q"), client_frame(TEXT, b"t"))
    client.expect(TEXT, b"t")  # and no PONG before it
    client.send(client_frame(CLOSE, close_payload(1000)))
    client.expect_close(1000)
    client.close()
    wait_for_observed("noautoping")
    assert observed["noautoping"][0] == [
        (WSMsgType.PING, b"p"),
        (WSMsgType.PONG, b"q"),
        (WSMsgType.TEXT, "t"),
    ]


def test_autoclose_off_lets_the_application_answer_the_close(server: RunningServer) -> None:
    client = RawClient(server, "/echo?autoclose=0&id=noautoclose").handshake()
    client.send(client_frame(CLOSE, close_payload(4000)))
    client.expect(TEXT, b"one more before closing")
    client.expect_close(1000)
    client.close()
    wait_for_observed("noautoclose")
    messages, code, _ = observed["noautoclose"]
    assert messages == [(WSMsgType.CLOSING, 4000)] and code == 4000


def test_frames_after_close_are_ignored(ws: RawClient) -> None:
    ws.send(client_frame(CLOSE, close_payload(1000)), client_frame(TEXT, b"too late"))
    ws.expect_close(1000)


def test_connection_dropped_without_close_is_1006(server: RunningServer) -> None:
    client = RawClient(server, "/echo?id=dropped").handshake()
    client.send(client_frame(TEXT, b"last words"))
    client.expect(TEXT, b"last words")
    client.close()
    wait_for_observed("dropped")
    messages, code, exc = observed["dropped"]
    assert (messages, code) == ([(WSMsgType.TEXT, "last words")], 1006)
    assert isinstance(exc, ConnectionResetError)


# -- 8. limits --------------------------------------------------------------------------------
def test_message_at_the_limit_passes_one_byte_more_is_1009(server: RunningServer) -> None:
    client = RawClient(server, "/echo?max=1024&id=limit").handshake()
    client.send(client_frame(BINARY, b"x" * 1024))
    client.expect(BINARY, b"x" * 1024)
    client.send(client_frame(BINARY, b"x" * 1025))
    client.expect_close(1009)
    client.close()
    wait_for_observed("limit")
    messages, code, exc = observed["limit"]
    assert messages[-1][0] == WSMsgType.ERROR and exc.code == 1009
    assert code == 1006  # as aiohttp: the peer never sent its close frame


def test_oversized_fragmented_message_is_1009(server: RunningServer) -> None:
    client = RawClient(server, "/echo?max=1024").handshake()
    client.send(*(client_frame(TEXT if i == 0 else 0, b"y" * 300, fin=False) for i in range(3)))
    client.send(client_frame(0, b"y" * 300))
    client.expect_close(1009)
    client.close()


def test_huge_announced_length_is_refused_before_any_payload(ws: RawClient) -> None:
    ws.send(struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 40) + b"mask")
    ws.expect_close(1009)


def test_length_with_the_top_bit_set_is_a_protocol_error(ws: RawClient) -> None:
    ws.send(struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 63) + b"mask")
    ws.expect_close(1002)


# -- 9. compression ---------------------------------------------------------------------------
def deflate_client(server: RunningServer, path: str = "/echo", offer: str = "") -> RawClient:
    extra = f"Sec-WebSocket-Extensions: permessage-deflate{offer}\r\n"
    return RawClient(server, path, extra).handshake()


@pytest.mark.parametrize(
    "offer",
    ["", "; client_max_window_bits", "; server_no_context_takeover; client_no_context_takeover"],
)
def test_compressed_messages_both_ways(server: RunningServer, offer: str) -> None:
    client = deflate_client(server, offer=offer)
    assert client.headers["sec-websocket-extensions"].startswith("permessage-deflate")
    inflater = zlib.decompressobj(wbits=-15)  # the server may keep its context
    for text in (b"hello " * 100, b"hello " * 100, b""):
        client.send(client_frame(TEXT, deflate(text), rsv=RSV1))
        first, opcode, data = client.recv()  # type: ignore[misc]
        assert (opcode, first & RSV1) == (TEXT, RSV1)
        assert inflater.decompress(data + b"\x00\x00\xff\xff") == text
    client.send(client_frame(PING, b"never compressed"))
    assert client.recv() == (0x80 | PONG, PONG, b"never compressed")
    client.close()


def test_compressed_fragmented_message(server: RunningServer) -> None:
    client = deflate_client(server)
    body = deflate(b"abc" * 1000)
    client.send(client_frame(BINARY, body[:10], fin=False, rsv=RSV1), client_frame(0, body[10:]))
    assert inflate(client.expect(BINARY)) == b"abc" * 1000
    client.close()


def test_compression_declined_when_disabled(server: RunningServer) -> None:
    client = deflate_client(server, "/echo?nocompress=1")
    assert "sec-websocket-extensions" not in client.headers
    client.send(client_frame(TEXT, deflate(b"x"), rsv=RSV1))
    client.expect_close(1002)
    client.close()


def test_decompression_bomb_is_1009_without_inflating_it(server: RunningServer) -> None:
    bomb = deflate(bytes(64 * 1024 * 1024))  # 64 MiB of zeros in about 64 KB
    assert len(bomb) < 100_000
    client = deflate_client(server, "/echo?id=bomb")
    started = time.monotonic()
    client.send(client_frame(BINARY, bomb, rsv=RSV1, mask=b"\0\0\0\0"))
    client.expect_close(1009)  # the 4 MiB default limit, checked while inflating
    assert time.monotonic() - started < 2
    client.close()


def test_invalid_compressed_data_fails_the_connection(server: RunningServer) -> None:
    client = deflate_client(server)
    client.send(client_frame(TEXT, b"\xff\xff\xff not deflate", rsv=RSV1))
    client.expect_close(1007)
    client.close()


# -- the handshake ----------------------------------------------------------------------------
def test_handshake_response_head(server: RunningServer) -> None:
    client = RawClient(server).handshake()
    expected = base64.b64encode(hashlib.sha1(client.key.encode() + GUID).digest()).decode()
    assert client.headers["sec-websocket-accept"] == expected
    assert client.headers["upgrade"].lower() == "websocket"
    assert client.headers["connection"].lower() == "upgrade"
    assert "sec-websocket-extensions" not in client.headers  # none offered
    client.close()


@pytest.mark.parametrize(
    ("request_head", "status", "reason"),
    [
        ("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 400, "No WebSocket UPGRADE hdr: None"),
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n",
            400,
            "Sec-WebSocket-Key",
        ),
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            426,
            "only 13",
        ),
        (
            "POST /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Content-Length: 0\r\n\r\n",
            400,
            "must be a GET",
        ),
    ],
    ids=["no-upgrade", "no-key", "version-8", "post"],
)
def test_bad_handshakes_get_an_http_error(
    server: RunningServer, request_head: str, status: int, reason: str
) -> None:
    client = RawClient(server)
    client.sock.sendall(request_head.encode())
    got, headers, body = client.read_head()
    assert got == status
    assert reason in body.decode()
    if status == 426:
        assert headers["sec-websocket-version"] == "13"
    client.close()


def test_no_http_after_the_websocket_ends(ws: RawClient) -> None:
    ws.send(client_frame(CLOSE, close_payload(1000)) + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    ws.expect_close(1000)  # and EOF: no keep-alive after an upgrade


def test_http_bytes_after_the_upgrade_are_not_parsed_as_http(ws: RawClient) -> None:
    ws.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # unmasked nonsense as a frame
    ws.expect_close(1002)


# -- heartbeat --------------------------------------------------------------------------------
def test_heartbeat_drops_a_client_that_never_pongs(server: RunningServer) -> None:
    client = RawClient(server, "/echo?heartbeat=0.2&id=heartbeat").handshake()
    started = time.monotonic()
    client.expect(PING, b"")
    assert 0.15 < time.monotonic() - started < 1
    assert client.recv() is None  # dropped after heartbeat/2 without a close frame
    assert time.monotonic() - started < 1.5
    client.close()
    wait_for_observed("heartbeat")
    messages, code, exc = observed["heartbeat"]
    assert code == 1006
    assert isinstance(exc, TimeoutError) and messages == [(WSMsgType.ERROR, exc)]


def test_heartbeat_keeps_a_client_that_pongs(server: RunningServer) -> None:
    client = RawClient(server, "/echo?heartbeat=0.1").handshake()
    for _ in range(4):  # four periods: each ping answered
        payload = client.expect(PING)
        client.send(client_frame(PONG, payload))
    client.send(client_frame(TEXT, b"alive"))
    while (frame := client.recv()) is not None and frame[1] == PING:
        client.send(client_frame(PONG, frame[2]))
    assert frame == (0x81, TEXT, b"alive")
    client.close()


def test_heartbeat_counts_data_as_life_and_does_not_ping_a_busy_client(
    server: RunningServer,
) -> None:
    client = RawClient(server, "/echo?heartbeat=0.2").handshake()
    started = time.monotonic()
    for i in range(14):  # 0.7 s of traffic, more than three heartbeat periods
        payload = b"tick %d" % i
        client.send(client_frame(TEXT, payload))
        assert client.recv() == (0x81, TEXT, payload)  # never a PING in between
        time.sleep(0.05)
    assert time.monotonic() - started > 0.6
    client.close()


# -- flow control -----------------------------------------------------------------------------
def test_reading_pauses_while_the_application_does_not_consume(server: RunningServer) -> None:
    total = 32 * 1024 * 1024  # more than the kernel buffers on both sides hold
    client = RawClient(server, f"/lazy?expect={total}").handshake()
    chunk = client_frame(BINARY, b"z" * 256 * 1024, mask=b"\0\0\0\0")
    client.sock.sendall(chunk * (total // (256 * 1024)))  # blocks until the app reads
    report = client.expect(TEXT)
    assert report == b'{"was_reading": false, "total": 33554432}'
    client.expect(CLOSE)
    client.close()


def test_send_waits_for_a_slow_reader(server: RunningServer) -> None:
    client = RawClient(server, "/flood").handshake()
    time.sleep(0.3)  # let the server fill its buffer and wait
    count = 0
    while (frame := client.recv()) is not None and frame[1] == BINARY:
        count += 1
    assert count == 64
    # 8 MiB sent, but never more than writer_limit plus one message waiting in memory.
    assert observed["fast_writer"] <= 64 * 1024 + 128 * 1024 + 16
    client.close()


def wait_for_observed(key: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while key not in observed:
        assert time.monotonic() < deadline, f"the handler never finished ({key})"
        time.sleep(0.01)


# -- memory of idle connections -----------------------------------------------------------------
IDLE_SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from asgiweb import web

    async def idle(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            pass
        return ws

    async def main():
        app = web.Application()
        app.router.add_get("/ws", idle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_memory_of_1000_idle_websockets() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", IDLE_SERVER], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    clients: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        running = RunningServer("native", f"http://127.0.0.1:{port}", port)
        warm = RawClient(running, "/ws").handshake()  # imports and first-use caches
        time.sleep(0.2)
        before = rss_kib(proc.pid)
        for _ in range(1000):
            client = RawClient(running, "/ws")
            client.sock.sendall(client.request)
            clients.append(client.sock)
        for sock in clients:
            assert sock.recv(4096).startswith(b"HTTP/1.1 101 ")
        time.sleep(0.2)
        grown = rss_kib(proc.pid) - before
        print(
            f"\n1000 idle WebSocket connections: RSS grew by {grown} KiB "
            f"({grown * 1024 // 1000} bytes per connection)"
        )
        assert grown < 200 * 1024  # generous: measured ~10-20 MiB
        warm.close()
    finally:
        for sock in clients:
            sock.close()
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
