"""One application using six aiohttp extensions as their documentation shows them.

Written against ``aiohttp.web`` on purpose: run with ``ECOSYSTEM_BACKEND=aiohttp`` it is
a plain aiohttp program (the reference); with ``asgiweb`` (the default) it installs
``asgiweb.aiohttp_compat`` first and the very same code runs on asgiweb; with ``runner``
it leaves that to ``python -m asgiweb.aiohttp_compat``, which started it. ``tests/functional/
test_aiohttp_ecosystem.py`` serves it each way and compares what clients see.
"""

from __future__ import annotations

import asyncio
import os
import sys

if os.environ.get("ECOSYSTEM_BACKEND", "asgiweb") == "asgiweb":
    import asgiweb.aiohttp_compat

    asgiweb.aiohttp_compat.install()

import aiohttp_cors
import aiohttp_jinja2
import aiohttp_remotes
import aiohttp_security
import aiohttp_session
import aiohttp_sse
import jinja2
from aiohttp import web
from aiohttp_security.abc import AbstractAuthorizationPolicy

TEMPLATES = {
    "hello.html": "<p>Hello, {{ name }}! {{ url('greet', name='x y') }}</p>",
    "view.html": "<p>{{ request.method }} {{ who }} {{ app_name }}</p>",
}
USERS = {"alice": {"read"}, "bob": {"read", "write"}}
NAME_KEY = web.AppKey("NAME_KEY", str)


class Policy(AbstractAuthorizationPolicy):
    async def authorized_userid(self, identity: str) -> str | None:
        return identity if identity in USERS else None

    async def permits(self, identity: str | None, permission: str, context: object = None) -> bool:
        return identity is not None and permission in USERS.get(identity, set())


@aiohttp_jinja2.template("hello.html")
async def greet(request: web.Request) -> dict[str, str]:
    return {"name": request.match_info["name"]}


async def rendered(request: web.Request) -> web.Response:
    response = aiohttp_jinja2.render_template("hello.html", request, {"name": "render"}, status=201)
    response.headers["X-Rendered"] = "yes"
    return response


class Greeting(web.View):
    @aiohttp_jinja2.template("view.html")
    async def get(self) -> dict[str, str]:
        return {"who": self.request.query.get("who", "nobody")}


async def app_name(request: web.Request) -> dict[str, str]:
    return {"app_name": request.config_dict[NAME_KEY]}


async def count(request: web.Request) -> web.Response:
    session = await aiohttp_session.get_session(request)
    session["n"] = session.get("n", 0) + 1
    return web.json_response({"n": session["n"], "new": session.new})


async def count_then_redirect(request: web.Request) -> web.Response:
    session = await aiohttp_session.get_session(request)
    session["n"] = session.get("n", 0) + 100
    raise web.HTTPFound("/session")


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    user = str(form.get("user", ""))
    if user not in USERS:
        raise web.HTTPForbidden(text="unknown user")
    response = web.Response(text="welcome " + user)
    await aiohttp_security.remember(request, response, user)
    return response


async def logout(request: web.Request) -> web.Response:
    await aiohttp_security.check_authorized(request)
    response = web.Response(text="bye")
    await aiohttp_security.forget(request, response)
    return response


async def private(request: web.Request) -> web.Response:
    user = await aiohttp_security.check_authorized(request)
    return web.Response(text="hello " + user)


async def write(request: web.Request) -> web.Response:
    await aiohttp_security.check_permission(request, "write")
    return web.Response(text="written")


async def whoami(request: web.Request) -> web.Response:
    user = await aiohttp_security.authorized_userid(request)
    can_read = await aiohttp_security.permits(request, "read")
    return web.json_response({"user": user, "read": can_read})


async def events(request: web.Request) -> web.StreamResponse:
    last = request.headers.get("Last-Event-Id")
    async with aiohttp_sse.sse_response(request) as resp:
        for i in range(3):
            await resp.send(f"tick {i}\nline two", id=str(i), event="tick")
        await resp.send(f"last={last}", retry=500)
        assert resp.last_event_id == last
    return resp


async def events_class(request: web.Request) -> web.StreamResponse:
    resp = aiohttp_sse.EventSourceResponse(sep="\n", ping_interval=0.05)
    await resp.prepare(request)
    async with resp:
        await asyncio.sleep(0.12)  # long enough for two pings
        await resp.send("done")
    return resp


async def remote_info(request: web.Request) -> web.Response:
    return web.json_response(
        {"remote": request.remote, "host": request.host, "scheme": request.scheme}
    )


async def api(request: web.Request) -> web.Response:
    return web.json_response({"api": True}, headers={"X-Extra": "1"})


def configure(app: web.Application) -> web.Application:
    """Everything but aiohttp-remotes, which goes first (its clone must reach the others)."""
    app[NAME_KEY] = "ecosystem"
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader(TEMPLATES),
        context_processors=[app_name, aiohttp_jinja2.request_processor],
    )
    aiohttp_session.setup(app, aiohttp_session.SimpleCookieStorage())
    aiohttp_security.setup(app, aiohttp_security.SessionIdentityPolicy(), Policy())

    app.router.add_get("/greet/{name}", greet, name="greet")
    app.router.add_get("/rendered", rendered)
    app.router.add_view("/view", Greeting)
    app.router.add_get("/session", count)
    app.router.add_get("/session/redirect", count_then_redirect)
    app.router.add_post("/login", login)
    app.router.add_get("/logout", logout)
    app.router.add_get("/private", private)
    app.router.add_get("/write", write)
    app.router.add_get("/whoami", whoami)
    app.router.add_get("/events", events)
    app.router.add_get("/events/class", events_class)
    app.router.add_get("/remote", remote_info)

    cors = aiohttp_cors.setup(
        app,
        defaults={
            "http://allowed.example": aiohttp_cors.ResourceOptions(
                allow_credentials=True, expose_headers="*", allow_headers=("X-Token",)
            )
        },
    )
    resource = cors.add(app.router.add_resource("/api"))
    cors.add(resource.add_route("GET", api))
    cors.add(resource.add_route("PUT", api))
    return app


async def make_app() -> web.Application:
    app = web.Application()
    await aiohttp_remotes.setup(app, aiohttp_remotes.XForwardedRelaxed())
    return configure(app)


def build_app() -> web.Application:
    """make_app() for an ASGI server, which imports ``app`` with no loop to await setup in."""
    app = web.Application()
    # What aiohttp_remotes.setup() does.
    app.middlewares.append(aiohttp_remotes.XForwardedRelaxed().middleware)
    return configure(app)


# For `uvicorn ecosystem_app:app`.
app = build_app() if os.environ.get("ECOSYSTEM_ASGI") else None


def main() -> None:
    port = int(sys.argv[1])
    web.run_app(make_app(), host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()
