#!/usr/bin/env python3
# From aiohttp 3.13.3, examples/web_rewrite_headers_middleware.py
# Copyright aio-libs contributors; Apache License 2.0 (see LICENSE.txt here).
# Ported to asgiweb: the `web` import, and a __main__ guard around what runs the
# server, are the only changes.
# ruff: noqa
"""Example for rewriting response headers by middleware."""

from asgiweb import web
from aiohttp.typedefs import Handler


async def handler(request):
    return web.Response(text="Everything is fine")


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        raise exc
    if not response.prepared:
        response.headers["SERVER"] = "Secured Server Software"
    return response


def init():
    app = web.Application(middlewares=[middleware])
    app.router.add_get("/", handler)
    return app


app = init()

if __name__ == "__main__":
    web.run_app(app)
