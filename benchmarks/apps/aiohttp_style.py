"""The benchmark app written once against the aiohttp.web API.

``build_app(web)`` takes the ``web`` module, so asgiweb and aiohttp serve literally the
same handlers: any difference in the numbers comes from the framework, not the app.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from .common import JSON_BODY, PARAMS_ROUTE, PLAINTEXT, data_file, filler_routes

__all__ = ["build_app", "file_handler_kind", "serve"]

Handler = Callable[[Any], Awaitable[Any]]


def file_handler_kind(web: ModuleType) -> str:
    """How ``GET /file`` is served by this ``web`` module (reported next to the numbers)."""
    if hasattr(web, "FileResponse"):
        return "FileResponse"
    return "Response(body=read_bytes())"


def _file_handler(web: ModuleType) -> Handler:
    path = data_file()
    if hasattr(web, "FileResponse"):

        async def file_response(request: Any) -> Any:
            return web.FileResponse(path)

        return file_response

    # An asgiweb without FileResponse: read the file per request, as an app would have to.
    # The read blocks the loop for ~0.1 ms (page cache), which is part of what we measure.
    async def read_file(request: Any) -> Any:
        return web.Response(body=path.read_bytes(), content_type="application/octet-stream")

    return read_file


def build_app(web: ModuleType) -> Any:
    """The ``web.Application`` every aiohttp-style contender serves."""

    async def plaintext(request: Any) -> Any:
        return web.Response(text=PLAINTEXT)

    async def json_message(request: Any) -> Any:
        return web.json_response(JSON_BODY)

    async def params(request: Any) -> Any:
        info = request.match_info
        return web.json_response({"id": info["id"], "post": info["post"]})

    async def echo(request: Any) -> Any:
        body = await request.read()
        return web.Response(text=str(len(body)))

    async def ws_echo(request: Any) -> Any:
        # Defaults throughout (autoping, autoclose, deflate if the client asks): what apps get.
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == web.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    async def filler(request: Any) -> Any:
        return web.Response(text="filler")

    app = web.Application()
    router = app.router
    router.add_get("/plaintext", plaintext)
    router.add_get("/json", json_message)
    router.add_post("/echo", echo)
    router.add_get("/file", _file_handler(web))
    for pattern in filler_routes():
        router.add_get(pattern, filler)
    # Registered after all the fillers: the worst case for a router that scans in order.
    router.add_get(PARAMS_ROUTE, params)
    router.add_get("/ws", ws_echo)
    return app


def serve(web: ModuleType, app: Any, argv: list[str] | None = None) -> None:
    """Serve ``app`` on ``web``'s own server: ``--host``, ``--port`` and ``--loop`` from the
    command line."""
    parser = argparse.ArgumentParser(description="Serve a benchmark app on its native server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args(argv)
    # The loop is made here and passed in, the same way for both frameworks: aiohttp's
    # run_app never picks uvloop itself, asgiweb's would unless told otherwise.
    loop: asyncio.AbstractEventLoop
    if args.loop == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    # No access log and no banner: neither is what we are measuring.
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, loop=loop)
