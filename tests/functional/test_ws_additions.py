"""Over a real socket: a message in 65,536 fragments within max_msg_size (native: the
frames are ours to read there), and on every path a status set before prepare() and
aiohttp 3.14's send_json_bytes and decode_text."""

from __future__ import annotations

import json
from typing import Any

from servers import serve
from websockets.sync.client import connect

from asgiweb import web

WSMsgType = web.WSMsgType


def ws_url(server: Any) -> str:
    return server.url.replace("http://", "ws://", 1) + "/ws"


def app_with(handler: Any) -> web.Application:
    app = web.Application()
    app.router.add_get("/ws", handler)
    return app


async def size_echo(request: web.Request) -> web.WebSocketResponse[Any]:
    ws = web.WebSocketResponse(max_msg_size=20 * 1024 * 1024)
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(f"{msg.type.name} {len(msg.data)}")
    return ws


def test_message_in_65536_fragments_within_max_msg_size() -> None:
    # 4 MiB as 65,536 fragments of 64 bytes; the client ends with an empty final frame.
    # Native only: under ASGI the server reassembles frames (and takes ~2x as long here).
    pieces = (bytes([i % 251]) * 64 for i in range(65_536))
    with (
        serve(app_with(size_echo), "native") as server,
        connect(ws_url(server), max_size=None) as client,
    ):
        client.send(pieces)
        assert client.recv(timeout=30) == f"BINARY {4 * 1024 * 1024}"


async def status_changed(request: web.Request) -> web.WebSocketResponse[Any]:
    ws = web.WebSocketResponse()
    ws.set_status(200)
    await ws.prepare(request)
    await ws.send_str(str(ws.status))
    await ws.close()
    return ws


def test_status_set_before_prepare_is_101(serve_app: Any) -> None:
    with serve_app(app_with(status_changed)) as server, connect(ws_url(server)) as client:
        assert client.recv(timeout=5) == "101"


async def json_bytes(request: web.Request) -> web.WebSocketResponse[Any]:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_json_bytes(
            {"got": msg.data}, dumps=lambda obj: json.dumps(obj, ensure_ascii=False).encode()
        )
    return ws


def test_send_json_bytes_sends_a_binary_message(serve_app: Any) -> None:
    with serve_app(app_with(json_bytes)) as server, connect(ws_url(server)) as client:
        client.send("héllo")
        reply = client.recv(timeout=5)
        assert isinstance(reply, bytes) and json.loads(reply) == {"got": "héllo"}


async def raw_text(request: web.Request) -> web.WebSocketResponse[Any]:
    ws = web.WebSocketResponse(decode_text=False)
    await ws.prepare(request)
    data = await ws.receive_str()
    parsed = await ws.receive_json(loads=json.loads)
    msg = await ws.receive()
    await ws.send_str(repr((data, parsed, msg.type.name, msg.data)))
    await ws.close()
    return ws


def test_decode_text_false_gives_text_as_bytes(serve_app: Any) -> None:
    with serve_app(app_with(raw_text)) as server, connect(ws_url(server)) as client:
        client.send("héllo")
        client.send('{"k": "é"}')
        client.send(b"\x00\xff")
        expected = ("héllo".encode(), {"k": "é"}, "BINARY", b"\x00\xff")
        assert client.recv(timeout=5) == repr(expected)
