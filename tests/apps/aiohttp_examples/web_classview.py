#!/usr/bin/env python3
# From aiohttp 3.13.3, examples/web_classview.py
# Copyright aio-libs contributors; Apache License 2.0 (see LICENSE.txt here).
# Ported to asgiweb: the `web` import, and a __main__ guard around what runs the
# server, are the only changes.
# ruff: noqa
"""Example for aiohttp.web class based views."""


import functools
import json

from asgiweb import web


class MyView(web.View):
    async def get(self):
        return web.json_response(
            {
                "method": "get",
                "args": dict(self.request.query),
                "headers": dict(self.request.headers),
            },
            dumps=functools.partial(json.dumps, indent=4),
        )

    async def post(self):
        data = await self.request.post()
        return web.json_response(
            {
                "method": "post",
                "args": dict(self.request.query),
                "data": dict(data),
                "headers": dict(self.request.headers),
            },
            dumps=functools.partial(json.dumps, indent=4),
        )


async def index(request):
    txt = """
      <html>
        <head>
          <title>Class based view example</title>
        </head>
        <body>
          <h1>Class based view example</h1>
          <ul>
            <li><a href="/">/</a> This page
            <li><a href="/get">/get</a> Returns GET data.
            <li><a href="/post">/post</a> Returns POST data.
          </ul>
        </body>
      </html>
    """
    return web.Response(text=txt, content_type="text/html")


def init():
    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/get", MyView)
    app.router.add_post("/post", MyView)
    return app


app = init()

if __name__ == "__main__":
    web.run_app(app)
