"""No request leaves a reference cycle of ours behind, on any path.

What a cycle holds (a request, its sink, a body's bytes, a task) is freed only when the
garbage collector next runs, not when the request ends: memory grows with the request
rate and every collection has more to scan. The servers run in this process, so the
collector sees their objects; only objects of asgiweb's and native_server's own types
count, since a server may leave garbage of its own (hypercorn does, a little).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from asgiweb import web

OURS = ("asgiweb", "native_server")


def cycle_app(tmp_path: Path) -> web.Application:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"x" * 300_000)

    async def plain(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(3):
            await response.write(b"chunk")
        await response.write_eof()
        return response

    async def refuse(request: web.Request) -> web.Response:
        raise web.HTTPBadRequest(text="no")

    async def fail(request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    async def send_file(request: web.Request) -> web.FileResponse:
        return web.FileResponse(blob)

    async def ws_echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/plain", plain)
    app.router.add_post("/echo", echo)
    app.router.add_get("/stream", stream)
    app.router.add_get("/refuse", refuse)
    app.router.add_get("/fail", fail)
    app.router.add_get("/file", send_file)
    app.router.add_get("/ws", ws_echo)
    return app


@pytest.fixture
def collector_paused() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def ours_in_cycles(exchange: Callable[[], Any], times: int = 20) -> list[str]:
    """Run ``exchange`` (once to warm up, then ``times`` times) and name the objects of
    our types that only the garbage collector could free."""
    exchange()
    time.sleep(0.05)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    for _ in range(times):
        exchange()
    time.sleep(0.2)  # what the server does after the client has its answer
    gc.collect()
    found = [type(obj).__qualname__ for obj in gc.garbage if type(obj).__module__.startswith(OURS)]
    gc.set_debug(0)
    gc.garbage.clear()
    return found


@pytest.mark.usefixtures("collector_paused")
def test_no_cycles_per_request(serve_app, tmp_path: Path) -> None:
    with serve_app(cycle_app(tmp_path), expect_errors=True) as server:
        with httpx.Client(base_url=server.url) as client:
            exchanges: dict[str, Callable[[], Any]] = {
                "plain": lambda: client.get("/plain"),
                "body": lambda: client.post("/echo", content=b"y" * 200_000),
                "chunked body": lambda: client.post("/echo", content=iter([b"a" * 70_000] * 3)),
                "stream": lambda: client.get("/stream"),
                "file": lambda: client.get("/file"),
                "404": lambda: client.get("/nowhere"),
                "HTTPException": lambda: client.get("/refuse"),
                "500": lambda: client.get("/fail"),
                # A connection per request: what the server keeps per connection goes too.
                "closed connection": lambda: httpx.get(
                    server.url + "/plain", headers={"Connection": "close"}
                ),
            }
            failures = {}
            for name, exchange in exchanges.items():
                found = ours_in_cycles(exchange)
                if found:
                    failures[name] = sorted(set(found))
            assert failures == {}, failures


@pytest.mark.usefixtures("collector_paused")
def test_no_cycles_per_websocket(serve_app, tmp_path: Path) -> None:
    with serve_app(cycle_app(tmp_path)) as server:
        url = server.url.replace("http", "ws", 1) + "/ws"

        def session() -> None:
            with connect(url) as ws:
                for text in ("a", "b", "c"):
                    ws.send(text)
                    assert ws.recv(timeout=5) == text

        found = ours_in_cycles(session, times=5)
        assert found == [], sorted(set(found))
