"""Hostile input on the ASGI path: what uvicorn and hypercorn let through must still
be answered as the native server answers it (issue 16). Each test runs on native,
uvicorn and hypercorn over raw loopback sockets."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from asgiweb import web

WSMsgType = web.WSMsgType


def exchange(server: Any, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes or a full
    response (by Content-Length) has arrived."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            received += chunk
            head, sep, body = received.partition(b"\r\n\r\n")
            if sep:
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        if len(body) >= int(value):
                            return received
        return received


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1."), response[:200]
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> bytes:
    return response.partition(b"\r\n\r\n")[2]


async def echo_headers(request: web.Request) -> web.Response:
    body = await request.content.read()  # first: headers are looked at once the body is in
    lines = [f"{name}: {value}" for name, value in request.headers.items()]
    return web.Response(text="\n".join(lines) + f"\nbody={body.decode()}")


def headers_app() -> web.Application:
    # Without inflating bodies nothing reads the headers before the handler does.
    app = web.Application(handler_args={"auto_decompress": False})
    app.router.add_route("*", "/h", echo_headers)
    return app


# --- 1. trailer fields never reach request.headers ---------------------------------

CHUNKED_HEAD = (
    b"POST /h HTTP/1.1\r\nHost: good.example\r\nTransfer-Encoding: chunked\r\n"
    b"Connection: close\r\n\r\n5\r\nhello\r\n"
)
TRAILER = b"0\r\nX-Trailer: sneaky\r\nHost: evil.example\r\n\r\n"


def check_no_trailer(response: bytes) -> None:
    assert status_of(response) == 200
    body = body_of(response).decode()
    assert "body=hello" in body
    assert "evil.example" not in body
    assert "sneaky" not in body
    assert "host: good.example" in body.lower()


def test_trailer_arriving_later_stays_out_of_request_headers(serve_app: Any) -> None:
    # The handler has started (and the adapter read the scope) before the trailer comes:
    # uvicorn appends it to the scope's header list then.
    with serve_app(headers_app()) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(CHUNKED_HEAD)
            time.sleep(0.3)
            sock.sendall(TRAILER)
            response = b""
            while chunk := sock.recv(65536):
                response += chunk
    check_no_trailer(response)


def test_trailer_in_the_same_packet_stays_out_of_request_headers(
    serve_app: Any, path_kind: str
) -> None:
    with serve_app(headers_app()) as server:
        response = exchange(server, CHUNKED_HEAD + TRAILER)
    if path_kind == "uvicorn":
        # uvicorn (httptools) parses the whole packet, trailer included, into the scope's
        # header list before the application is called: nothing there tells the header
        # section from the trailer any more (only uvicorn can fix that). A trailer Host
        # then counts as a second Host: refused before the handler sees it.
        assert status_of(response) == 400
        assert b"Duplicate Host header" in response
        return
    check_no_trailer(response)


# --- 2. duplicate and missing Host on HTTP/1.1 --------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"GET /h HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n",
        b"GET /h HTTP/1.1\r\n",
    ],
    ids=["duplicate", "missing"],
)
def test_bad_host_count_is_refused(serve_app: Any, head: bytes) -> None:
    called = []

    async def handler(request: web.Request) -> web.Response:
        called.append(request)
        return web.Response(text="reached")

    app = web.Application()
    app.router.add_get("/h", handler)
    with serve_app(app) as server:
        response = exchange(server, head + b"Connection: close\r\n\r\n")
        # The server still answers a normal request afterwards.
        after = exchange(server, b"GET /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(response) == 400
    assert b"reached" not in response
    assert status_of(after) == 200
    assert len(called) == 1


def test_http10_without_host_is_served(serve_app: Any) -> None:
    with serve_app(headers_app()) as server:
        response = exchange(server, b"GET /h HTTP/1.0\r\n\r\n")
    assert status_of(response) == 200


# --- 3. absolute-form targets ----------------------------------------------------------


def test_absolute_form_target_takes_path_from_the_url(serve_app: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=f"{request.path}|{request.query_string}|{request.host}")

    app = web.Application()
    app.router.add_get("/p/q", handler)
    with serve_app(app) as server:
        response = exchange(
            server,
            b"GET http://target.example/p/q?a=1 HTTP/1.1\r\nHost: target.example\r\n"
            b"Connection: close\r\n\r\n",
        )
    assert status_of(response) == 200
    assert body_of(response) == b"/p/q|a=1|target.example"


def test_normalize_path_never_fails_on_an_absolute_target(serve_app: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(middlewares=[web.normalize_path_middleware()])
    app.router.add_get("/evil.com/", handler)
    app.router.add_get("/a/", handler)
    with serve_app(app) as server:
        responses = [
            exchange(server, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Connection: close\r\n\r\n")
            for target in (
                b"http://127.0.0.1//evil.com",
                b"http://127.0.0.1//evil.com/",
                b"//evil.com",
                b"///evil.com",
                b"http://127.0.0.1/a",
            )
        ]  # fmt: skip
    for response in responses:
        status = status_of(response)
        assert status in (200, 308, 404), response
        if status == 308:
            location = next(
                line for line in response.split(b"\r\n") if line.lower().startswith(b"location:")
            )
            target = location.partition(b":")[2].strip()
            assert target.startswith(b"/") and not target.startswith(b"//"), location
    # The last one is redirected to the route with the slash.
    assert status_of(responses[-1]) == 308


# --- 4. WebSocket max_msg_size on every path ---------------------------------------


def test_websocket_message_over_max_msg_size_closes_1009(serve_app: Any) -> None:
    seen: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=64 * 1024)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
            else:
                seen.append((msg.type, getattr(msg.data, "code", None)))
        seen.append("done")
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    with serve_app(app) as server:
        url = server.url.replace("http://", "ws://", 1) + "/ws"
        with connect(url, max_size=None) as client:
            small = b"x" * 1000
            client.send(small)
            assert client.recv(timeout=5) == small
            big = [b"y" * 1024 for _ in range(100)]  # 100 KiB in 1 KiB fragments
            with pytest.raises(ConnectionClosedError) as info:
                # The server may close while the fragments still go out (native does).
                client.send(big)
                client.recv(timeout=5)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1009
        deadline = time.monotonic() + 5
        while "done" not in seen:
            assert time.monotonic() < deadline, seen
            time.sleep(0.01)
    # As on the native path: the handler gets an ERROR carrying the 1009 error.
    assert seen == [(WSMsgType.ERROR, 1009), "done"]
