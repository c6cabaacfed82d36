#!/usr/bin/env python3
# From aiohttp 3.13.3, examples/web_cookies.py
# Copyright aio-libs contributors; Apache License 2.0 (see LICENSE.txt here).
# Ported to asgiweb: the `web` import, and a __main__ guard around what runs the
# server, are the only changes.
# ruff: noqa
"""Example for aiohttp.web basic server with cookies."""

from pprint import pformat
from typing import NoReturn

from asgiweb import web

tmpl = """\
<html>
    <body>
        <a href="/login">Login</a><br/>
        <a href="/logout">Logout</a><br/>
        <pre>{}</pre>
    </body>
</html>"""


async def root(request):
    resp = web.Response(content_type="text/html")
    resp.text = tmpl.format(pformat(request.cookies))
    return resp


async def login(request: web.Request) -> NoReturn:
    exc = web.HTTPFound(location="/")
    exc.set_cookie("AUTH", "secret")
    raise exc


async def logout(request: web.Request) -> NoReturn:
    exc = web.HTTPFound(location="/")
    exc.del_cookie("AUTH")
    raise exc


def init():
    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get("/login", login)
    app.router.add_get("/logout", logout)
    return app


app = init()

if __name__ == "__main__":
    web.run_app(app)
