"""WebSocketResponse's meaning, driven in memory through a fake channel: states, close
codes, timeouts, the heartbeat and the error paths no real peer reaches reliably."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from multidict import CIMultiDict

from asgiweb import web
from asgiweb.request import BaseRequest
from asgiweb.transport import RequestHead
from asgiweb.websocket import WSMessageTypeError
from asgiweb.ws_types import WebSocketError

WSMsgType = web.WSMsgType
HANDSHAKE = [
    (b"Host", b"example.com"),
    (b"Upgrade", b"websocket"),
    (b"Connection", b"Upgrade"),
    (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"Sec-WebSocket-Version", b"13"),
]


def in_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body on a fresh event loop."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


class FakeChannel:
    """A WebSocketChannel whose peer is the test."""

    compress = 0

    def __init__(self, *, server_managed: bool = False, interruptible: bool = True) -> None:
        self.server_managed = server_managed
        self.interruptible = interruptible
        self.last_activity = asyncio.get_running_loop().time()
        self.incoming: asyncio.Queue[Any] = asyncio.Queue()
        self.sent: list[tuple[Any, int]] = []
        self.closes: list[tuple[int, bytes]] = []
        self.disconnected = False
        self.send_error: BaseException | None = None
        self.close_error: BaseException | None = None

    def feed(self, kind: WSMsgType, data: Any = None, extra: str | None = "") -> None:
        self.last_activity = asyncio.get_running_loop().time()
        self.incoming.put_nowait(web.WSMessage(kind, data, extra))

    async def receive(self) -> web.WSMessage:
        item = await self.incoming.get()
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[no-any-return]

    def interrupt(self) -> None:
        if self.interruptible:
            self.incoming.put_nowait(web.WSMessage(WSMsgType.CLOSING, None, None))

    async def send(self, data: Any, opcode: int, compress: int | None = None) -> None:
        if self.send_error is not None:
            raise self.send_error
        self.sent.append((data, opcode))

    async def close(self, code: int, reason: bytes, *, drain: bool = True) -> None:
        if self.close_error is not None:
            raise self.close_error
        self.closes.append((code, reason))

    def disconnect(self) -> None:
        self.disconnected = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("10.0.0.1", 1234)}.get(name, default)


class FakeSink:
    adds_default_headers = True

    def __init__(self, channel: FakeChannel | None) -> None:
        self.channel = channel
        self.started = False
        self.status = 0

    def start(self, status: int, reason: str, headers: CIMultiDict[str], *_: Any) -> None:
        self.started = True
        self.status = status

    async def flush(self) -> None:
        return None

    def websocket(self, **settings: Any) -> FakeChannel | None:
        return self.channel


def request_for(sink: Any, headers: list[tuple[bytes, bytes]] = HANDSHAKE) -> BaseRequest:
    head = RequestHead("GET", "/ws", "", web.HttpVersion11, None, headers)
    return BaseRequest(head, web.StreamReader(), sink)


async def prepared(**options: Any) -> tuple[web.WebSocketResponse, FakeChannel]:
    channel = FakeChannel(
        server_managed=options.pop("server_managed", False),
        interruptible=options.pop("interruptible", True),
    )
    ws = web.WebSocketResponse(**options)
    await ws.prepare(request_for(FakeSink(channel)))
    return ws, channel


@in_loop
async def test_prepare_answers_101_and_exposes_the_channel() -> None:
    channel = FakeChannel()
    sink = FakeSink(channel)
    ws = web.WebSocketResponse()
    assert not ws.prepared and ws.compress is True
    assert ws.get_extra_info("peername", "none") == "none"
    await ws.prepare(request_for(sink))
    assert sink.status == 101 and ws.prepared and ws.compress == 0
    assert ws.headers["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3
    assert ws.get_extra_info("peername") == ("10.0.0.1", 1234)
    with pytest.raises(RuntimeError, match="Already started"):
        ws.can_prepare(request_for(sink))


@in_loop
async def test_can_prepare_and_handshake_errors() -> None:
    ws = web.WebSocketResponse(protocols=("chat",))
    offer = [*HANDSHAKE, (b"Sec-WebSocket-Protocol", b"other, chat")]
    assert ws.can_prepare(request_for(FakeSink(None), offer)) == (True, "chat")
    bad_version = [(k, b"8" if k == b"Sec-WebSocket-Version" else v) for k, v in HANDSHAKE]
    ready = ws.can_prepare(request_for(FakeSink(None), bad_version))
    assert ready == (False, None) and not ready
    with pytest.raises(web.HTTPUpgradeRequired) as info:
        await ws.prepare(request_for(FakeSink(None), bad_version))
    assert info.value.headers["Sec-WebSocket-Version"] == "13"
    with pytest.raises(web.HTTPBadRequest):
        await ws.prepare(request_for(FakeSink(None), HANDSHAKE[:1]))
    with pytest.raises(RuntimeError, match="'websocket' scope"):
        await ws.prepare(request_for(FakeSink(None)))  # a sink that cannot upgrade


@in_loop
async def test_misuse_before_prepare() -> None:
    ws = web.WebSocketResponse()
    for call in (ws.ping(), ws.send_bytes(b""), ws.close(), ws.receive(), ws.write_eof()):
        with pytest.raises(RuntimeError):
            await call


@in_loop
async def test_close_code_and_payload_checks() -> None:
    ws, channel = await prepared()
    for code in (-1, 65536):  # any other code is sent, as aiohttp does
        with pytest.raises(ValueError, match="does not fit"):
            await ws.close(code=code)
    with pytest.raises(ValueError, match="123 bytes"):
        await ws.close(message="x" * 124)
    with pytest.raises(ValueError, match="125 bytes"):
        await ws.ping(b"x" * 126)
    with pytest.raises(ValueError, match="opcode"):
        await ws.send_frame(b"", WSMsgType.CONTINUATION)
    assert not ws.closed and channel.closes == []  # nothing changed


@in_loop
async def test_send_frame_and_str_pings() -> None:
    ws, channel = await prepared()
    await ws.ping("hé")
    await ws.send_frame(b"raw", WSMsgType.BINARY)
    await ws.send_json({"a": 1}, dumps=lambda data: "custom")
    assert channel.sent == [
        ("hé".encode(), WSMsgType.PING),
        (b"raw", WSMsgType.BINARY),
        ("custom", WSMsgType.TEXT),
    ]


@in_loop
async def test_closed_receives_then_runtime_error() -> None:
    ws, channel = await prepared()
    channel.feed(WSMsgType.CLOSE, 1000, "")
    assert (await ws.receive()).type is WSMsgType.CLOSE
    for _ in range(4):
        assert (await ws.receive()).type is WSMsgType.CLOSED
    with pytest.raises(RuntimeError, match="closed"):
        await ws.receive()
    assert channel.closes == [(1000, b"")] and channel.disconnected


@in_loop
async def test_receive_type_errors() -> None:
    ws, channel = await prepared()
    channel.feed(WSMsgType.TEXT, "text")
    with pytest.raises(WSMessageTypeError) as info:
        await ws.receive_bytes()
    assert isinstance(info.value, TypeError)
    channel.feed(WSMsgType.TEXT, "not json")
    with pytest.raises(ValueError):
        await ws.receive_json()


@in_loop
async def test_protocol_error_fails_the_connection() -> None:
    ws, channel = await prepared()
    error = WebSocketError(1007, "bad text")
    channel.incoming.put_nowait(error)
    channel.incoming.put_nowait(error)  # a failed channel raises again
    msg = await ws.receive()
    assert (msg.type, msg.data) == (WSMsgType.ERROR, error)
    assert channel.closes == [(1007, b"")] and channel.disconnected
    assert ws.close_code == 1006 and ws.exception() is error  # as aiohttp


@in_loop
async def test_other_receive_failure_is_an_error_message() -> None:
    ws, channel = await prepared()
    failure = RuntimeError("server sent nonsense")
    channel.incoming.put_nowait(failure)
    msg = await ws.receive()
    assert (msg.type, msg.data) == (WSMsgType.ERROR, failure)
    assert ws.exception() is failure and ws.close_code == 1006 and ws.closed


@in_loop
async def test_close_when_sending_the_close_frame_fails() -> None:
    ws, channel = await prepared()
    channel.close_error = ConnectionResetError("gone")
    assert await ws.close() is True
    assert ws.close_code == 1006 and ws.exception() is channel.close_error
    assert channel.disconnected


@in_loop
async def test_close_from_another_task_gives_up_on_a_stuck_receiver() -> None:
    # A channel that cannot interrupt (like ASGI's) and a peer that never answers.
    ws, channel = await prepared(timeout=0.05, interruptible=False)
    receiver = asyncio.ensure_future(ws.receive())
    await asyncio.sleep(0)
    assert await ws.close(code=4000) is True
    assert ws.close_code == 1006 and isinstance(ws.exception(), TimeoutError)
    channel.feed(WSMsgType.CLOSE, 4000, "")  # the server's disconnect, at last
    assert (await receiver).type is WSMsgType.CLOSING


@in_loop
async def test_autoping_reply_to_a_vanished_peer_is_not_an_error() -> None:
    ws, channel = await prepared()
    channel.send_error = ConnectionResetError("gone")
    channel.feed(WSMsgType.PING, b"p")
    channel.feed(WSMsgType.TEXT, "after")
    assert (await ws.receive()).data == "after"


@in_loop
async def test_heartbeat_waits_while_data_flows_then_drops_a_silent_peer() -> None:
    ws, channel = await prepared(heartbeat=0.1)
    for _ in range(4):  # activity every half period: no ping needed
        await asyncio.sleep(0.05)
        channel.last_activity = asyncio.get_running_loop().time()
    assert channel.sent == []
    msg = await asyncio.wait_for(ws.receive(), 1)  # ping at +0.1, no answer by +0.15
    assert channel.sent == [(b"", WSMsgType.PING)]
    assert msg.type is WSMsgType.ERROR and isinstance(msg.data, TimeoutError)
    assert ws.close_code == 1006 and channel.disconnected and channel.closes == []


@in_loop
async def test_heartbeat_ping_that_cannot_be_sent_drops_the_connection() -> None:
    ws, channel = await prepared(heartbeat=0.02)
    channel.send_error = ConnectionResetError("gone")
    msg = await asyncio.wait_for(ws.receive(), 1)
    assert (msg.type, msg.data) == (WSMsgType.ERROR, channel.send_error)
    assert ws.close_code == 1006


@in_loop
async def test_heartbeat_is_the_servers_when_it_manages_the_wire() -> None:
    ws, channel = await prepared(heartbeat=0.01, server_managed=True)
    await asyncio.sleep(0.05)
    assert channel.sent == [] and not ws.closed


@in_loop
async def test_async_for_ends_at_close_and_goes_through_a_subclass_receive() -> None:
    ws, channel = await prepared()
    channel.feed(WSMsgType.TEXT, "one")
    channel.feed(WSMsgType.BINARY, b"two")
    channel.feed(WSMsgType.CLOSE, 1000, "")
    got = [(msg.type, msg.data) async for msg in ws]
    assert got == [(WSMsgType.TEXT, "one"), (WSMsgType.BINARY, b"two")]
    assert ws.closed and ws.close_code == 1000

    class Counting(web.WebSocketResponse):
        calls = 0

        async def receive(self, timeout: float | None = None) -> web.WSMessage:  # type: ignore[override]
            type(self).calls += 1
            return await super().receive(timeout)

    counting = Counting()
    channel = FakeChannel()
    await counting.prepare(request_for(FakeSink(channel)))
    channel.feed(WSMsgType.TEXT, "a")
    channel.feed(WSMsgType.CLOSING)
    assert [msg.data async for msg in counting] == ["a"]
    assert Counting.calls == 2  # the message, then the CLOSING that ended the loop
