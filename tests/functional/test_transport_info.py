"""request.transport and request.protocol on every path, and a streamed response whose
client leaves: what aiohttp-sse and other extensions rely on.

Under ASGI there is no socket: ``request.transport`` is a stand-in that answers
``get_extra_info`` from the scope and can abort; a write after the client left raises
``ConnectionResetError`` as on aiohttp, although uvicorn itself drops such writes silently.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpx
import pytest

from asgiweb import web


def test_transport_tells_the_peer_and_protocol_has_it(serve_app: Any, path_kind: str) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        transport = request.transport
        seen["peername"] = transport.get_extra_info("peername")
        seen["sockname"] = transport.get_extra_info("sockname")
        seen["closing"] = transport.is_closing()
        seen["same"] = request.protocol.transport is transport
        seen["unknown"] = transport.get_extra_info("no-such-thing", "dflt")
        if path_kind != "native":
            with pytest.raises(RuntimeError, match="write through the response"):
                transport.write(b"raw bytes")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handler)
    with serve_app(app) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            client = sock.getsockname()
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert seen["peername"][:2] == client
    assert seen["sockname"][:2] == ("127.0.0.1", server.port)
    assert seen["closing"] is False
    assert seen["same"] is True
    assert seen["unknown"] == "dflt"


def _stream_app(events: dict[str, Any]) -> web.Application:
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "text/plain"
        await response.prepare(request)
        response.enable_chunked_encoding()  # after prepare: no error, as in aiohttp
        started = time.monotonic()
        try:
            while time.monotonic() - started < 10:
                await response.write(b"tick\n")
                await asyncio.sleep(0.02)
        except ConnectionResetError:
            events["reset_after"] = time.monotonic() - started
            events["transport_after"] = request.transport
        return response

    app = web.Application()
    app.router.add_get("/stream", stream)
    return app


def test_a_write_after_the_client_left_raises(serve_app: Any) -> None:
    events: dict[str, Any] = {}
    with serve_app(_stream_app(events)) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            first = sock.recv(65536)
            assert first.startswith(b"HTTP/1.1 200"), first
        deadline = time.monotonic() + 5
        while "reset_after" not in events and time.monotonic() < deadline:
            time.sleep(0.02)
        # The server still serves.
        assert httpx.get(server.url + "/nothing").status_code == 404
    assert "reset_after" in events, "the handler wrote to a gone client for 5 s"
    assert events["reset_after"] < 5


def test_aborting_the_transport_drops_the_connection(serve_app: Any, path_kind: str) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"partial")
        request.transport.abort()
        with pytest.raises(ConnectionResetError):
            for _ in range(50):  # natively the transport closes at the next loop turn
                await response.write(b"more")
                await asyncio.sleep(0.01)
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    # An ASGI app drops a connection only by raising: the ASGI server logs that.
    with serve_app(app, expect_errors=path_kind != "native") as server:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(server.url + "/")
