"""The ASGI ``websocket`` scope driven in memory: what the adapter sends and how it reads
what the server delivers."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from asgiweb import web

HANDSHAKE_HEADERS = [
    (b"host", b"example.com"),
    (b"upgrade", b"websocket"),
    (b"connection", b"Upgrade"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"sec-websocket-version", b"13"),
    (b"sec-websocket-protocol", b"chat, superchat"),
    (b"sec-websocket-extensions", b"permessage-deflate"),
]


def ws_scope(extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "wss",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": HANDSHAKE_HEADERS,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": ["chat", "superchat"],
        "extensions": extensions if extensions is not None else {"websocket.http.response": {}},
    }


async def run(app: Any, scope: dict[str, Any], incoming: list[dict[str, Any]]) -> list[dict]:
    """Serve one scope; ``incoming`` is what the server delivers, after websocket.connect."""
    sent: list[dict] = []
    queue = [{"type": "websocket.connect"}, *incoming]

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), 5)
    return sent


def in_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body on a fresh event loop."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


def app_with(handler: Any) -> web.Application:
    app = web.Application()
    app.router.add_get("/ws", handler)
    return app


@in_loop
async def test_accept_carries_subprotocol_and_only_the_apps_headers() -> None:
    seen: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("superchat",), heartbeat=0.01)
        ws.headers["X-Extra"] = "1"
        await ws.prepare(request)
        seen.extend([request.scheme, ws.ws_protocol, ws.compress, ws.get_extra_info("peername")])
        await ws.send_str("text")
        await ws.send_bytes(b"bytes")
        await ws.ping(b"ignored")  # the ASGI server owns pings: nothing is sent
        await ws.send_frame(b"", web.WSMsgType.PONG)
        await asyncio.sleep(0.05)  # a heartbeat would have pinged by now; ASGI has none
        seen.append(await ws.receive_str())
        return ws

    sent = await run(
        app_with(handler),
        ws_scope(),
        [{"type": "websocket.receive", "text": "hi"}, {"type": "websocket.disconnect"}],
    )
    assert sent == [
        {"type": "websocket.accept", "subprotocol": "superchat", "headers": [(b"x-extra", b"1")]},
        {"type": "websocket.send", "text": "text"},
        {"type": "websocket.send", "bytes": b"bytes"},
        {"type": "websocket.close", "code": 1000, "reason": ""},
    ]
    assert seen == ["https", "superchat", 0, ("127.0.0.1", 5000), "hi"]


@pytest.mark.parametrize(
    ("disconnect", "expected"),
    [
        ({"type": "websocket.disconnect", "code": 4000, "reason": "bye"}, ("CLOSE", 4000, "bye")),
        ({"type": "websocket.disconnect"}, ("CLOSE", 1005, "")),  # the ASGI default code
        ({"type": "websocket.disconnect", "code": 1006}, ("CLOSED", None, None)),
    ],
)
@in_loop
async def test_disconnect_becomes_close_or_closed(
    disconnect: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    seen: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        msg = await ws.receive()
        seen.append((msg.type.name, msg.data, msg.extra))
        seen.append((await ws.receive()).type.name)
        seen.append(ws.close_code)
        try:
            await ws.send_str("too late")
        except ConnectionResetError:
            seen.append("ConnectionResetError")
        return ws

    sent = await run(app_with(handler), ws_scope(), [disconnect])
    code = expected[1] if expected[1] is not None else 1006
    assert seen == [expected, "CLOSED", code, "ConnectionResetError"]
    # The server said the connection is over: nothing is sent back after it.
    assert [m["type"] for m in sent] == ["websocket.accept"]


@in_loop
async def test_non_upgrade_answer_uses_the_http_response_extension() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=401, text="who are you?")

    sent = await run(app_with(handler), ws_scope(), [])
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 401
    assert (b"content-type", b"text/plain; charset=utf-8") in sent[0]["headers"]
    assert sent[1:] == [
        {"type": "websocket.http.response.body", "body": b"who are you?", "more_body": False}
    ]


@in_loop
async def test_non_upgrade_answer_without_the_extension_closes() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=401, text="who are you?")

    # The server turns a close before accept into 403 (ASGI spec), the status is lost.
    sent = await run(app_with(handler), ws_scope(extensions={}), [])
    assert sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]


@in_loop
async def test_send_failure_from_the_server_is_a_connection_reset() -> None:
    seen: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            await ws.send_str("x")
        except ConnectionResetError as exc:
            seen.append(type(exc.__cause__).__name__)
        seen.append((await ws.receive()).type.name)
        return ws

    class ClientDisconnected(OSError):  # what uvicorn raises
        pass

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] != "websocket.accept":
            raise ClientDisconnected()

    await asyncio.wait_for(app_with(handler)(ws_scope(), receive, send), 5)
    assert seen == ["ClientDisconnected", "CLOSED"]


@in_loop
async def test_websocket_response_on_an_http_scope_fails_clearly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        return ws

    scope = ws_scope()
    scope.update(type="http", method="GET", scheme="http")
    sent: list[dict] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with caplog.at_level(logging.ERROR, "asgiweb.websocket"):
        await app_with(handler)(scope, receive, send)
    assert sent[0]["status"] == 501
    assert "install a WebSocket library: pip install websockets" in caplog.text


@in_loop
async def test_client_gone_before_connect() -> None:
    called: list[bool] = []

    async def handler(request: web.Request) -> web.Response:
        called.append(True)
        return web.Response()

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.disconnect", "code": 1006}

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("nothing to send")

    await app_with(handler)(ws_scope(), receive, send)
    assert called == []


@pytest.mark.parametrize("extensions", [{"websocket.http.response": {}}, {}])
@in_loop
async def test_streamed_refusal(extensions: dict[str, Any]) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=429)
        await response.prepare(request)
        await response.write(b"slow ")
        await response.write(b"down")
        return response

    sent = await run(app_with(handler), ws_scope(extensions), [])
    if extensions:
        assert [m["type"] for m in sent] == ["websocket.http.response.start"] + [
            "websocket.http.response.body"
        ] * 3
        assert b"".join(m["body"] for m in sent[1:]) == b"slow down"
    else:
        assert sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]


@in_loop
async def test_close_frame_sent_raw_and_unexpected_messages() -> None:
    seen: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_frame(b"\x0f\xa0raw close", web.WSMsgType.CLOSE)
        try:
            await ws.send_str("after the close frame")
        except ConnectionResetError:
            seen.append("ConnectionResetError")
        msg = await ws.receive()
        seen.append((msg.type.name, str(msg.data)))
        return ws

    sent = await run(app_with(handler), ws_scope(), [{"type": "http.request"}])
    assert sent[1] == {"type": "websocket.close", "code": 4000, "reason": "raw close"}
    assert seen == [
        "ConnectionResetError",
        (
            "ERROR",
            "Expected ASGI message 'websocket.receive' or 'websocket.disconnect', "
            "but got 'http.request'",
        ),
    ]
