"""The thinnest layer shaped like aiohttp's WebSocket API over ASGI, for measuring what
such an API must cost under an ASGI server (``thinws-uvicorn`` in
:mod:`benchmarks.inprocess`).

HTTP is the floor's (:mod:`benchmarks.apps.floor_app`). A WebSocket gets an object
whose ``receive()`` is one coroutine that turns the server's message into a message
tuple and whose ``send_str()`` hands back the server's own ``send()`` awaitable: no
state, no checks, no closing handshake, no ping, no timeout, none of what
``WebSocketResponse`` must do. Whatever it costs per message over the floor, any
framework offering ``msg = await ws.receive()`` and ``await ws.send_str(...)`` costs at
least that. Not a contender in the wall-clock runs; see benchmarks/README.md, "Reading
the numbers", for what it showed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .floor_app import app as floor_app

_TEXT, _BINARY, _CLOSE = 1, 2, 8


class Message(NamedTuple):
    type: int
    data: Any
    extra: Any


class ThinWebSocket:
    __slots__ = ("_receive", "_send")

    def __init__(self, receive: Any, send: Any) -> None:
        self._receive = receive
        self._send = send

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] != "websocket.receive":
            return Message(_CLOSE, None, None)
        text = message.get("text")
        if text is not None:
            return Message(_TEXT, text, None)
        return Message(_BINARY, message.get("bytes"), None)

    def send_str(self, data: str) -> Any:
        return self._send({"type": "websocket.send", "text": data})

    def send_bytes(self, data: bytes) -> Any:
        return self._send({"type": "websocket.send", "bytes": data})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        await floor_app(scope, receive, send)
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    ws = ThinWebSocket(receive, send)
    while True:
        msg = await ws.receive()
        if msg.type == _TEXT:
            await ws.send_str(msg.data)
        elif msg.type == _BINARY:
            await ws.send_bytes(msg.data)
        else:
            return
