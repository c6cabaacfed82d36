"""Middlewares, signals, cleanup contexts, sub-applications and domains on every path."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from servers import serve

from asgiweb import web

LOG = web.AppKey("log", list)


def layered_app(log: list[str]) -> web.Application:
    @web.middleware
    async def outer(request: web.Request, handler):
        log.append(f"outer-in {request.app['name']}")
        response = await handler(request)
        log.append("outer-out")
        response.headers["X-Outer"] = "1"
        return response

    @web.middleware
    async def inner(request: web.Request, handler):
        log.append("inner-in")
        try:
            return await handler(request)
        except web.HTTPNotFound:
            log.append("inner-saw-404")
            raise

    @web.middleware
    async def sub_mw(request: web.Request, handler):
        log.append(f"sub-in {request.app['name']}")
        return await handler(request)

    app = web.Application(middlewares=[outer, inner])
    sub = web.Application(middlewares=[sub_mw])
    with pytest.warns(web.NotAppKeyWarning):
        app["name"] = "root"
        sub["name"] = "sub"
    app[LOG] = log
    sub[web.AppKey("only_sub", str)] = "s"

    async def root_handler(request: web.Request) -> web.Response:
        log.append("handler")
        return web.Response(text=request.app["name"])

    async def sub_handler(request: web.Request) -> web.Response:
        log.append("sub-handler")
        url = request.app.router["item"].url_for(id="7 x")
        return web.json_response(
            {
                "app": request.app["name"],
                "url": str(url),
                "log_from_parent": LOG in request.config_dict,
            }
        )

    app.router.add_get("/", root_handler)
    sub.router.add_get("/items/{id}", sub_handler, name="item")
    app.add_subapp("/sub/", sub)
    return app


def test_middleware_order_and_sub_apps(serve_app) -> None:
    log: list[str] = []
    with serve_app(layered_app(log)) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/")
        assert (r.text, r.headers["x-outer"]) == ("root", "1")
        assert log == ["outer-in root", "inner-in", "handler", "outer-out"]
        log.clear()
        r = client.get("/sub/items/3")
        assert r.json() == {"app": "sub", "url": "/sub/items/7%20x", "log_from_parent": True}
        assert log == ["outer-in root", "inner-in", "sub-in sub", "sub-handler", "outer-out"]
        log.clear()
        r = client.get("/missing")
        # The router's 404 reaches middlewares as an exception, which `outer` lets through.
        assert r.status_code == 404 and "x-outer" not in r.headers
        assert log == ["outer-in root", "inner-in", "inner-saw-404"]
        # Once the prefix matches, the sub-application answers, 404 included.
        assert client.get("/sub/nothing").status_code == 404


def test_url_for_with_a_slash_in_a_value_leads_back_to_the_same_value(serve_app) -> None:
    # aiohttp keeps "/" in a value; a {tail:.+} route is where that is meant. The URL
    # url_for writes, requested over the socket, must reach the handler with the value.
    app = web.Application()

    async def link(request: web.Request) -> web.Response:
        url = request.app.router["file"].url_for(tail="dir one/x%2F.txt")
        return web.Response(text=str(url))

    async def file(request: web.Request) -> web.Response:
        return web.Response(text=request.match_info["tail"])

    app.router.add_get("/link", link)
    app.router.add_get("/files/{tail:.+}", file, name="file")
    with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
        url = client.get("/link").text
        assert url == "/files/dir%20one/x%252F.txt"
        assert client.get(url).text == "dir one/x%2F.txt"


def test_old_style_middleware_is_accepted_with_a_warning(serve_app) -> None:
    async def factory(app: web.Application, handler):
        async def wrapped(request: web.Request) -> web.StreamResponse:
            response = await handler(request)
            response.headers["X-Old"] = "yes"
            return response

        return wrapped

    app = web.Application(middlewares=[factory])

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app.router.add_get("/", hello)
    with pytest.warns(DeprecationWarning, match="old-style middleware"):
        app.freeze()
    with serve_app(app) as server:
        assert httpx.get(server.url).headers["x-old"] == "yes"


def test_domain_sub_apps(serve_app) -> None:
    app = web.Application()
    exact = web.Application()
    masked = web.Application()

    async def which(request: web.Request) -> web.Response:
        return web.Response(text=request.app[NAME])

    NAME = web.AppKey("name", str)
    for sub, name in ((exact, "exact"), (masked, "masked")):
        sub[NAME] = name
        sub.router.add_get("/", which)
    app[NAME] = "root"
    app.router.add_get("/root-only", which)
    app.add_domain("example.com", exact)
    app.add_domain("*.example.org", masked)
    with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/", headers={"Host": "example.com"}).text == "exact"
        assert client.get("/", headers={"Host": "EXAMPLE.com"}).text == "exact"
        assert client.get("/", headers={"Host": "api.example.org"}).text == "masked"
        assert client.get("/", headers={"Host": "example.org"}).status_code == 404
        # Domain sub-apps are tried first and own every path of their host (aiohttp 3.13.3).
        assert client.get("/root-only", headers={"Host": "example.com"}).status_code == 404
        assert client.get("/root-only", headers={"Host": "other.test"}).text == "root"


def test_domain_matching_refuses_several_host_headers(path_kind: str) -> None:
    app = web.Application()
    sub = web.Application()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="sub")

    sub.router.add_get("/", ok)
    app.add_domain("example.com", sub)
    with serve(app, path_kind) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: example.com\r\nHost: evil.test\r\n\r\n")
            data = sock.recv(4096)
    assert data.startswith(b"HTTP/1.1 400")


@pytest.mark.parametrize(
    "path, location",
    [
        ("/a", "/a/"),
        ("//a//b", "/a/b/"),
        ("/a?x=1", "/a/?x=1"),
        ("//evil.com", None),  # never a protocol-relative redirect
        ("///evil.com/a", "/evil.com/a/"),
    ],
)
def test_normalize_path_middleware(serve_app, path: str, location: str | None) -> None:
    app = web.Application(middlewares=[web.normalize_path_middleware()])

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text=request.path)

    app.router.add_get("/a/", ok)
    app.router.add_get("/a/b/", ok)
    app.router.add_get("/evil.com/a/", ok)
    with serve_app(app) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
    head = data.split(b"\r\n\r\n")[0].decode()
    if location is None:
        assert head.startswith("HTTP/1.1 404"), head
    else:
        assert head.startswith("HTTP/1.1 308"), head
        assert f"\r\nlocation: {location}".lower() in head.lower()


def test_remove_slash_and_redirect_class(serve_app) -> None:
    app = web.Application(
        middlewares=[
            web.normalize_path_middleware(
                append_slash=False, remove_slash=True, redirect_class=web.HTTPFound
            )
        ]
    )

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/page", ok)
    with serve_app(app) as server:
        r = httpx.get(server.url + "/page/")
        assert (r.status_code, r.headers["location"]) == (302, "/page")
    with pytest.raises(AssertionError):
        web.normalize_path_middleware(append_slash=True, remove_slash=True)


def signal_app(events: list[str], *, fail_startup: bool = False, fail_cleanup: bool = False):
    app = web.Application()
    sub = web.Application()

    async def ctx_a(app: web.Application):
        events.append("ctx-a up")
        yield
        events.append("ctx-a down")

    async def ctx_b(app: web.Application):
        events.append("ctx-b up")
        yield
        events.append("ctx-b down")
        if fail_cleanup:
            raise RuntimeError("cleanup b failed")

    async def sub_ctx(app: web.Application):
        events.append("sub-ctx up")
        yield
        events.append("sub-ctx down")

    async def on_startup(app: web.Application) -> None:
        events.append("startup")
        if fail_startup:
            raise RuntimeError("startup failed")

    async def on_shutdown(app: web.Application) -> None:
        events.append("shutdown")

    async def on_cleanup(app: web.Application) -> None:
        events.append("cleanup")

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app.cleanup_ctx.extend([ctx_a, ctx_b])
    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    sub.cleanup_ctx.append(sub_ctx)
    sub.router.add_get("/", hello)
    app.router.add_get("/", hello)
    app.add_subapp("/sub", sub)
    return app


EXPECTED_ORDER = [
    "ctx-a up", "ctx-b up", "startup", "sub-ctx up",
    "shutdown",
    "ctx-b down", "ctx-a down", "cleanup", "sub-ctx down",
]  # fmt: skip


def test_signal_and_cleanup_order(serve_app) -> None:
    events: list[str] = []
    with serve_app(signal_app(events)) as server:
        assert httpx.get(server.url + "/sub/").text == "hi"
        assert events == EXPECTED_ORDER[:4]
    assert events == EXPECTED_ORDER


def test_failing_cleanup_still_runs_every_cleanup() -> None:
    events: list[str] = []
    app = signal_app(events, fail_cleanup=True)

    async def run() -> None:
        app.freeze()
        await app.startup()
        await app.shutdown()
        await app.cleanup()

    with pytest.raises(RuntimeError, match="cleanup b failed"):
        asyncio.run(run())
    # ctx-a still exits after ctx-b failed; then, as aiohttp's Signal.send does, on_cleanup
    # stops at the receiver that raised: "cleanup" and the sub-app's contexts do not run.
    assert events == [*EXPECTED_ORDER[:5], "ctx-b down", "ctx-a down"]


def _startup_failure(kind: str) -> tuple[type[BaseException], str]:
    """What each server raises when the application's startup fails."""
    if kind == "uvicorn":
        return RuntimeError, "uvicorn exited with code 3"  # its STARTUP_FAILURE
    if kind == "hypercorn":
        from hypercorn.utils import LifespanFailureError

        return LifespanFailureError, "Lifespan failure in startup. 'RuntimeError: startup failed'"
    return RuntimeError, "startup failed"  # the native runner re-raises the app's error


@pytest.mark.parametrize("kind", ["native", "uvicorn", "hypercorn"])
def test_failing_startup_refuses_to_serve(kind: str) -> None:
    events: list[str] = []
    app = signal_app(events, fail_startup=True)
    served: list[str] = []
    failure, message = _startup_failure(kind)
    with pytest.raises(failure) as info:
        with serve(app, kind, **({"lifespan": "on"} if kind == "uvicorn" else {})) as server:
            served.append(httpx.get(server.url, timeout=2).text)  # pragma: no cover
    assert str(info.value) == message
    assert served == []
    assert events == ["ctx-a up", "ctx-b up", "startup"]


def test_app_is_frozen_once_started() -> None:
    app = web.Application()

    async def run() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        try:
            for change in (
                lambda: app.router.add_get("/late", lambda r: None),
                lambda: app.middlewares.append(lambda r, h: None),
                lambda: app.on_startup.append(lambda a: None),
            ):
                with pytest.raises(RuntimeError):
                    change()
            # State stays writable, as in aiohttp 3.x, with a deprecation warning.
            with pytest.warns(DeprecationWarning, match="Changing state of started"):
                app[LOG] = ["late"]
            assert app[LOG] == ["late"]
        finally:
            await runner.cleanup()

    asyncio.run(run())


def test_application_rules() -> None:
    with pytest.warns(DeprecationWarning, match="Inheritance"):

        class Mine(web.Application):  # noqa: F841 - defining it is what warns
            pass

    app = web.Application()
    with pytest.raises(ValueError):
        app.add_subapp("", web.Application())
    frozen = web.Application()
    frozen.freeze()
    with pytest.raises(RuntimeError):
        app.add_subapp("/x", frozen)
    with pytest.raises(TypeError):
        app.add_domain(123, web.Application())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        app.add_subapp("/y", web.Application()).url_for()
    key = web.AppKey("n", int)
    assert repr(key).startswith("<AppKey(") and "type=int" in repr(key)
