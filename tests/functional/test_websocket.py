"""WebSocketResponse on every path (native, uvicorn, hypercorn), driven by the
``websockets`` library as an independent client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets
from websockets.sync.client import connect

from asgiweb import web

WSMsgType = web.WSMsgType


def ws_url(server: Any, path: str = "/ws") -> str:
    return server.url.replace("http://", "ws://", 1) + path


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for the server thread to record what a test checks."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the server")
        time.sleep(0.01)


def app_with(handler: Callable[[web.Request], Any], path: str = "/ws") -> web.Application:
    app = web.Application()
    app.router.add_get(path, handler)
    return app


async def quickstart_echo(request: web.Request) -> web.WebSocketResponse:
    """The quickstart's handler, as written there."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            if msg.data == "close":
                await ws.close()
            else:
                await ws.send_str(msg.data + "/answer")
        elif msg.type == WSMsgType.ERROR:
            print(f"ws connection closed with exception {ws.exception()}")
    return ws


def test_quickstart_echo(serve_app: Any) -> None:
    with serve_app(app_with(quickstart_echo)) as server, connect(ws_url(server)) as client:
        client.send("hello")
        assert client.recv(timeout=5) == "hello/answer"
        client.send("close")
        with pytest.raises(websockets.ConnectionClosedOK):
            client.recv(timeout=5)
        assert client.close_code == 1000


def test_binary_and_many_messages(serve_app: Any) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            assert msg.type == WSMsgType.BINARY
            await ws.send_bytes(msg.data[::-1])
        return ws

    with serve_app(app_with(handler)) as server, connect(ws_url(server)) as client:
        for size in (0, 1, 125, 126, 65535, 65536, 300_000):
            payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
            client.send(payload)
            assert client.recv(timeout=5) == payload[::-1]


def test_json_both_ways(serve_app: Any) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        data = await ws.receive_json()
        await ws.send_json({"got": data, "ok": True})
        try:
            await ws.receive_json()
        except TypeError as exc:  # a BINARY message is not JSON text
            await ws.send_str(f"TypeError: {type(exc).__name__}")
        await ws.close()
        return ws

    with serve_app(app_with(handler)) as server, connect(ws_url(server)) as client:
        client.send(json.dumps([1, "two", None]))
        assert json.loads(client.recv(timeout=5)) == {"got": [1, "two", None], "ok": True}
        client.send(b"{}")
        assert client.recv(timeout=5) == "TypeError: WSMessageTypeError"


@pytest.mark.parametrize(
    ("offered", "chosen"), [(["b", "a"], "b"), (["x", "a"], "a"), (["x"], None)]
)
def test_subprotocol_negotiation(
    serve_app: Any, offered: list[str], chosen: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("a", "b"))
        seen.append(ws.can_prepare(request))
        await ws.prepare(request)
        await ws.send_str(str(ws.ws_protocol))
        await ws.close()
        return ws

    with serve_app(app_with(handler)) as server:
        with connect(ws_url(server), subprotocols=offered) as client:  # type: ignore[arg-type]
            assert client.subprotocol == chosen
            assert client.recv(timeout=5) == str(chosen)
    assert seen == [web.WebSocketReady(True, chosen)]
    assert bool(seen[0]) is True


def test_server_close_code_and_reason_reach_the_client(serve_app: Any) -> None:
    results: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        results.append(await ws.close(code=4001, message=b"going now"))
        results.append(await ws.close())  # already closed
        results.append(ws.closed)
        return ws

    with serve_app(app_with(handler)) as server, connect(ws_url(server)) as client:
        client.send("bye?")
        with pytest.raises(websockets.ConnectionClosed):
            client.recv(timeout=5)
        assert (client.close_code, client.close_reason) == (4001, "going now")
        wait_for(lambda: len(results) == 3)
    assert results == [True, False, True]


def test_client_close_code_reaches_the_server(serve_app: Any, path_kind: str) -> None:
    results: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        msg = await ws.receive()
        results.append((msg.type, msg.data, ws.close_code, ws.closed))
        results.append((await ws.receive()).type)
        return ws

    with serve_app(app_with(handler)) as server:
        with connect(ws_url(server)) as client:
            client.close(4000, "client leaves")
        wait_for(lambda: len(results) == 2)
    if path_kind == "hypercorn":
        # hypercorn reports every close the application did not start as 1006
        # (docs/differences.md).
        assert results == [(WSMsgType.CLOSED, None, 1006, True), WSMsgType.CLOSED]
    else:
        assert results == [(WSMsgType.CLOSE, 4000, 4000, True), WSMsgType.CLOSED]


def test_non_upgrade_answer(serve_app: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=403, text="no sockets for you")

    with serve_app(app_with(handler)) as server:
        with pytest.raises(websockets.InvalidStatus) as info:
            connect(ws_url(server))
        assert info.value.response.status_code == 403
        assert info.value.response.body == b"no sockets for you"


def test_plain_get_to_a_websocket_route_is_a_bad_request(serve_app: Any) -> None:
    with serve_app(app_with(quickstart_echo)) as server:
        response = httpx.get(server.url + "/ws")
    assert response.status_code == 400
    assert response.text == 'No WebSocket UPGRADE hdr: None\n Can "Upgrade" only to "WebSocket".'


def test_handler_error_before_prepare_is_a_500(serve_app: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        raise ValueError("broken handler")

    with serve_app(app_with(handler), expect_errors=True) as server:
        with pytest.raises(websockets.InvalidStatus) as info:
            connect(ws_url(server))
    assert info.value.response.status_code == 500
    assert server.logged("ValueError: broken handler")


def test_handler_error_after_prepare_drops_the_connection(serve_app: Any) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        raise ValueError("broken after the upgrade")

    with serve_app(app_with(handler), expect_errors=True) as server:
        with connect(ws_url(server)) as client:
            client.send("go")
            with pytest.raises(websockets.ConnectionClosedError):
                client.recv(timeout=5)
            # No normal close: native and uvicorn drop the connection, hypercorn says 1011.
            assert client.close_code in (1006, 1011)
    assert server.logged("ValueError: broken after the upgrade")


def test_pings_and_api_misuse(serve_app: Any) -> None:
    results: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        for call in (ws.send_str("x"), ws.receive(), ws.close()):
            try:
                await call
            except RuntimeError as exc:
                results.append(str(exc))
        await ws.prepare(request)
        assert ws.prepared and await ws.prepare(request) is not None  # idempotent
        await ws.ping(b"are you there")  # a no-op under ASGI, a PING natively
        await ws.pong()
        for bad in (ws.send_str(b"bytes"), ws.send_bytes("text")):  # type: ignore[arg-type]
            try:
                await bad
            except TypeError:
                results.append("TypeError")
        try:
            await ws.write(b"raw")
        except RuntimeError:
            results.append("no write")
        receiver = asyncio.ensure_future(ws.receive())
        await asyncio.sleep(0.05)
        try:
            await ws.receive()
        except RuntimeError as exc:
            results.append(str(exc))
        await ws.send_str("ready")
        results.append((await receiver).data)
        await ws.close()
        try:
            await ws.send_str("after close")
        except ConnectionResetError:
            results.append("ConnectionResetError")
        return ws

    with serve_app(app_with(handler)) as server, connect(ws_url(server)) as client:
        assert client.recv(timeout=5) == "ready"
        client.send("the one message")
        wait_for(lambda: len(results) == 9)
    assert results == [
        "Call .prepare() first",
        "Call .prepare() first",
        "Call .prepare() first",
        "TypeError",
        "TypeError",
        "no write",
        "Concurrent call to receive() is not allowed",
        "the one message",
        "ConnectionResetError",
    ]


def test_client_pings_are_answered(serve_app: Any) -> None:
    with serve_app(app_with(quickstart_echo)) as server, connect(ws_url(server)) as client:
        pong = client.ping(b"are you there")  # autoping natively, the ASGI server otherwise
        client.send("after the ping")
        assert client.recv(timeout=5) == "after the ping/answer"
        assert pong.wait(5)


def test_receive_timeout(serve_app: Any) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(receive_timeout=0.05)
        await ws.prepare(request)
        try:
            await ws.receive()
        except TimeoutError:
            await ws.send_str("timed out")
        await ws.send_str((await ws.receive(timeout=5)).data)
        await ws.close()
        return ws

    with serve_app(app_with(handler)) as server, connect(ws_url(server)) as client:
        assert client.recv(timeout=5) == "timed out"
        client.send("later")
        assert client.recv(timeout=5) == "later"


def test_request_attributes_and_extra_headers(serve_app: Any) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        ws.headers["X-Room"] = "lobby"
        ws.set_cookie("seen", "1")
        await ws.prepare(request)
        info = {
            "path": request.path,
            "query": request.query.get("name"),
            "scheme": request.scheme,
            "origin": request.headers.get("Origin"),
            "peer": ws.get_extra_info("peername")[0],
        }
        await ws.send_json(info)
        await ws.close()
        return ws

    with serve_app(app_with(handler, "/ws/{room}")) as server:
        url = ws_url(server, "/ws/lobby?name=ann")
        with connect(url, origin="http://example.com") as client:  # type: ignore[arg-type]
            assert client.response.headers["X-Room"] == "lobby"
            assert "seen=1" in client.response.headers["Set-Cookie"]
            info = json.loads(client.recv(timeout=5))
    assert info == {
        "path": "/ws/lobby",
        "query": "ann",
        "scheme": "http",
        "origin": "http://example.com",
        "peer": "127.0.0.1",
    }


def test_large_compressed_text(serve_app: Any) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        msg = await ws.receive()
        await ws.send_str(msg.data.upper())
        await ws.close()
        return ws

    text = "websocket " * 200_000  # 2 MB, a few KB once deflated
    with serve_app(app_with(handler)) as server, connect(ws_url(server), max_size=None) as client:
        assert "permessage-deflate" in client.response.headers["Sec-WebSocket-Extensions"]
        client.send(text)
        assert client.recv(timeout=10) == text.upper()


def test_close_from_another_task_ends_the_receive_loop(serve_app: Any) -> None:
    results: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)

        async def close_soon() -> None:
            await asyncio.sleep(0.1)
            results.append(await ws.close(code=web.WSCloseCode.GOING_AWAY, message="later"))

        closer = asyncio.ensure_future(close_soon())
        async for msg in ws:
            results.append(msg.data)
        await closer
        return ws

    with serve_app(app_with(handler)) as server, connect(ws_url(server)) as client:
        client.send("first")
        with pytest.raises(websockets.ConnectionClosedOK):
            client.recv(timeout=5)
        assert (client.close_code, client.close_reason) == (1001, "later")
        wait_for(lambda: len(results) == 2)
    assert results == ["first", True]
