"""What a server may send is ruled once, in :mod:`asgiweb.ws_types`, and applied by
WebSocketResponse: the same refusals with the same messages on every transport, before
the transport sees anything. The native codec then frames what it is given."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import websockets
from multidict import CIMultiDict
from websockets.sync.client import connect

from asgiweb import web
from asgiweb.asgi.websocket import ASGIWebSocketChannel
from asgiweb.request import BaseRequest
from asgiweb.transport import RequestHead
from asgiweb.ws_types import check_close, check_frame
from native_server.websocket import NativeWebSocket
from native_server.wire.websocket import FrameWriter, build_frame

WSMsgType = web.WSMsgType
MASK = b"\x01\x02\x03\x04"
HANDSHAKE = [
    (b"Host", b"example.com"),
    (b"Upgrade", b"websocket"),
    (b"Connection", b"Upgrade"),
    (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"Sec-WebSocket-Version", b"13"),
]

Call = Callable[[web.WebSocketResponse[Any]], Coroutine[Any, Any, Any]]

# (what the handler does, the exception it meets, its message); the WebSocket stays open.
REFUSED: list[tuple[Call, type[Exception], str]] = [
    (lambda ws: ws.close(code=65536), ValueError, "Close code 65536 does not fit in a close frame"),
    (lambda ws: ws.close(code=-1), ValueError, "Close code -1 does not fit in a close frame"),
    (lambda ws: ws.close(message="r" * 124), ValueError, "Close reason longer than 123 bytes"),
    (lambda ws: ws.close(code=0, message="why"), ValueError, "A close reason needs a close code"),
    (lambda ws: ws.send_frame(b"", 3), ValueError, "Cannot send a frame with opcode 3"),
    (
        lambda ws: ws.send_frame(b"", WSMsgType.CLOSING),
        ValueError,
        "Cannot send a frame with opcode <WSMsgType.CLOSING: 256>",
    ),
    (lambda ws: ws.ping(b"p" * 126), ValueError, "Control frame payload longer than 125 bytes"),
    (lambda ws: ws.pong("p" * 126), ValueError, "Control frame payload longer than 125 bytes"),
    (
        lambda ws: ws.send_frame(b"\x03\xe8" + b"r" * 124, WSMsgType.CLOSE),
        ValueError,
        "Control frame payload longer than 125 bytes",
    ),
    (
        lambda ws: ws.send_str(b"x"),  # type: ignore[arg-type]
        TypeError,
        "data argument must be str (<class 'bytes'>)",
    ),
    (
        lambda ws: ws.send_bytes("x"),  # type: ignore[arg-type]
        TypeError,
        "data argument must be byte-ish (<class 'str'>)",
    ),
]
EXPECTED = [(kind.__name__, message) for _, kind, message in REFUSED]
AFTER_CLOSE = [("ConnectionResetError", "Cannot send on a closed WebSocket")] * 2


async def attempt(ws: web.WebSocketResponse[Any], calls: list[Call]) -> list[tuple[str, str]]:
    outcomes = []
    for call in calls:
        try:
            await call(ws)
        except Exception as exc:
            outcomes.append((type(exc).__name__, str(exc)))
        else:
            outcomes.append(("sent", ""))
    return outcomes


LATE: list[Call] = [lambda ws: ws.send_str("late"), lambda ws: ws.ping()]


# -- in memory, through each transport's real channel -------------------------------------
class Sink:
    adds_default_headers = True

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    def start(self, status: int, reason: str, headers: CIMultiDict[str], *_: Any) -> None:
        assert status == 101

    async def flush(self) -> None:
        return None

    def websocket(self, **settings: Any) -> Any:
        return self.channel


class Protocol:
    """What NativeWebSocket uses of the native server's connection."""

    _transport = None
    _write_paused = False

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.written: list[bytes] = []
        self.write = self.written.append


def native() -> tuple[Any, Callable[[], list[Any]]]:
    protocol = Protocol()
    channel = NativeWebSocket(
        protocol,  # type: ignore[arg-type]
        deflate=None,
        max_msg_size=0,
        writer_limit=65536,
        read_limit=65536,
    )
    # The peer's answer to our close frame, already on its way.
    channel.data_received(build_frame(WSMsgType.CLOSE, b"\x03\xe8", mask=MASK))
    return channel, lambda: protocol.written


def asgi() -> tuple[Any, Callable[[], list[Any]]]:
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Any) -> None:
        sent.append(message)

    return ASGIWebSocketChannel({}, receive, send), lambda: sent


WIRE = {
    native: [build_frame(WSMsgType.TEXT, b"open"), build_frame(WSMsgType.CLOSE, b"\x03\xe8")],
    asgi: [
        {"type": "websocket.send", "text": "open"},
        {"type": "websocket.close", "code": 1000, "reason": ""},
    ],
}


@pytest.mark.parametrize("transport", [native, asgi], ids=["native", "asgi"])
def test_each_transport_refuses_alike_before_sending_anything(
    transport: Callable[[], tuple[Any, Callable[[], list[Any]]]],
) -> None:
    async def run() -> None:
        channel, sent = transport()
        ws = web.WebSocketResponse()
        head = RequestHead("GET", "/ws", "", web.HttpVersion11, None, HANDSHAKE)
        request = BaseRequest(head, web.StreamReader(), Sink(channel))  # type: ignore[arg-type]
        await ws.prepare(request)
        assert await attempt(ws, [call for call, _, _ in REFUSED]) == EXPECTED
        assert not ws.closed and sent() == []
        await ws.send_str("open")
        assert await ws.close() is True
        assert await attempt(ws, LATE) == AFTER_CLOSE
        assert sent() == WIRE[transport]

    asyncio.run(run())


# -- the codec's own checked API applies the same rules ----------------------------------
@pytest.mark.parametrize(
    ("code", "reason"), [(65536, b""), (-1, b""), (1000, b"r" * 124), (0, b"why"), (None, b"x")]
)
def test_the_codec_close_refuses_as_the_rule(code: int | None, reason: bytes) -> None:
    with pytest.raises(ValueError) as rule:
        check_close(code, reason)
    with pytest.raises(ValueError, match=f"^{rule.value}$"):
        FrameWriter().close(code, reason)


@pytest.mark.parametrize(
    ("opcode", "size"), [(3, 0), (0, 0), (WSMsgType.CLOSED, 0), (0x9, 126), (0xA, 200), (0x8, 126)]
)
def test_the_codec_frame_refuses_as_the_rule(opcode: int, size: int) -> None:
    with pytest.raises(ValueError) as rule:
        check_frame(opcode, size)
    with pytest.raises(ValueError, match=f"^{rule.value}$"):
        FrameWriter().frame(b"x" * size, opcode)


def test_the_codec_encode_frames_what_it_is_given() -> None:
    writer = FrameWriter()
    assert writer.encode(b"p" * 126, WSMsgType.PING) == build_frame(WSMsgType.PING, b"p" * 126)
    assert writer.encode(b"", 3) == b"\x83\x00"


# -- over a real socket, on every serving path -------------------------------------------
def test_every_path_refuses_alike(serve_app: Any) -> None:
    outcomes: list[list[tuple[str, str]]] = []
    done = threading.Event()

    async def handler(request: web.Request) -> web.WebSocketResponse[Any]:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            outcomes.append(await attempt(ws, [call for call, _, _ in REFUSED]))
            await ws.send_str("still open")
            await ws.close(code=4000, message="done")
            outcomes.append(await attempt(ws, LATE))
        finally:
            done.set()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    with serve_app(app) as server:
        url = server.url.replace("http://", "ws://", 1) + "/ws"
        with connect(url) as client:
            assert client.recv(timeout=5) == "still open"
            with pytest.raises(websockets.ConnectionClosed):
                client.recv(timeout=5)
            assert (client.close_code, client.close_reason) == (4000, "done")
        assert done.wait(5)
    assert outcomes == [EXPECTED, AFTER_CLOSE]
