"""An app for load and fault tests, served in its own process.

``python tests/apps/load_app.py PORT`` serves it natively (run_app: SIGTERM drains);
``uvicorn load_app:app`` serves the same object under ASGI.
"""

from __future__ import annotations

import asyncio
import sys

from asgiweb import web

CHUNK = b"y" * 16384


async def fast(request: web.Request) -> web.Response:
    return web.Response(text="fast")


async def echo(request: web.Request) -> web.Response:
    return web.Response(body=await request.read())


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("t", "1")))
    return web.Response(text="slow done")


async def fail(request: web.Request) -> web.Response:
    raise RuntimeError("a handler that fails on purpose")


async def hang(request: web.Request) -> web.Response:
    await asyncio.sleep(3600)
    return web.Response(text="never")


async def stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    for _ in range(int(request.query.get("n", "256"))):
        await response.write(CHUNK)
    await response.write_eof()
    return response


def make_app() -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_get("/fast", fast)
    app.router.add_post("/echo", echo)
    app.router.add_get("/slow", slow)
    app.router.add_get("/fail", fail)
    app.router.add_get("/hang", hang)
    app.router.add_get("/stream", stream)
    return app


app = make_app()

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), shutdown_timeout=3, print=None)
