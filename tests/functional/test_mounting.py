"""Mounting, both directions: an asgiweb app under a prefix of Starlette and FastAPI
(served by uvicorn and hypercorn), and Starlette, FastAPI and WSGI apps under a prefix
of an asgiweb app (served by the native server, uvicorn and hypercorn)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")

from asgiref.wsgi import WsgiToAsgi  # noqa: E402
from example_apps import load_example  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from servers import RunningServer, serve  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import (  # noqa: E402
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route, WebSocketRoute  # noqa: E402
from starlette.websockets import WebSocket  # noqa: E402
from websockets.exceptions import InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from asgiweb import web  # noqa: E402
from asgiweb.asgi.adapter import lifespan  # noqa: E402
from asgiweb.interop import asgi_app  # noqa: E402
from asgiweb.interop.asgi_app import ASGIMountResource, mount_asgi  # noqa: E402
from asgiweb.interop.hosted import absolute_url  # noqa: E402
from asgiweb.interop.wsgi import mount_wsgi  # noqa: E402

ASGI_SERVERS = ("uvicorn", "hypercorn")
HOSTS = ("starlette", "fastapi")
READY = web.AppKey("ready", str)
BODY = bytes(range(256)) * 1200  # 300 KiB: several http.request messages
GOT_FIRST_CHUNK = 5.0  # seconds a streaming handler waits for the client's first read


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pieces(data: bytes, size: int = 50_000) -> Iterator[bytes]:
    """A request body httpx sends chunked, in several pieces."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _read_streamed(client: httpx.Client, url: str, release: threading.Event) -> list[bytes]:
    """Read a streamed response; the server holds back the rest until the first piece
    arrived, which fails (times out) if anything between buffers the whole body."""
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        pieces = []
        for piece in response.iter_raw():
            pieces.append(piece)
            release.set()
    return pieces


# -- asgiweb inside Starlette and FastAPI ----------------------------------------------------


def legacy_app(events: list[str], release: threading.Event) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/hello/{name}", name="hello")
    async def hello(request: web.Request) -> web.Response:
        link = request.app.router["hello"].url_for(name="again")
        return web.json_response(
            {
                "name": request.match_info["name"],
                "url": str(request.url),
                "rel_url": str(request.rel_url),
                "path": request.path,
                "raw_path": request.raw_path,
                "query": request.query.getall("a", []),
                "url_for": str(link),
                "absolute": str(absolute_url(request, link)),
            }
        )

    @routes.get("/plain")
    async def plain(request: web.Request) -> web.Response:
        return web.Response(text="plain")

    @routes.get("/ready")
    async def ready(request: web.Request) -> web.Response:
        return web.Response(text=request.app[READY])

    @routes.post("/upload")
    async def upload(request: web.Request) -> web.Response:
        data = bytearray()
        async for piece in request.content.iter_any():
            data += piece
        return web.json_response({"size": len(data), "sha256": _digest(bytes(data))})

    @routes.get("/stream")
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        await response.write(b"first\n")
        assert await asyncio.to_thread(release.wait, GOT_FIRST_CHUNK)
        await response.write(b"second\n")
        await response.write_eof(b"last\n")
        return response

    app = web.Application()
    app.add_routes(routes)
    _record_lifecycle(app, events)
    return app


def _record_lifecycle(app: web.Application, events: list[str]) -> None:
    async def resources(app: web.Application) -> AsyncIterator[None]:
        events.append("legacy ctx enter")
        app[READY] = "ready"  # aiohttp lets startup set state: the app freezes after it
        yield
        events.append("legacy ctx exit")

    def record(name: str) -> Callable[[web.Application], Any]:
        async def handler(app: web.Application) -> None:
            events.append(name)

        return handler

    app.cleanup_ctx.append(resources)
    app.on_startup.append(record("legacy startup"))
    app.on_shutdown.append(record("legacy shutdown"))
    app.on_cleanup.append(record("legacy cleanup"))


async def _host_home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("host")


def host_app(kind: str, legacy: web.Application, events: list[str], *, helper: bool) -> Any:
    @contextlib.asynccontextmanager
    async def host_lifespan(host: Any) -> AsyncIterator[None]:
        events.append("host startup")
        if helper:
            async with lifespan(legacy):
                yield
        else:
            yield
        events.append("host shutdown")

    if kind == "starlette":
        return Starlette(
            routes=[Route("/", _host_home), Mount("/legacy", app=legacy)], lifespan=host_lifespan
        )
    app = FastAPI(lifespan=host_lifespan)
    app.add_api_route("/", _host_home)
    app.mount("/legacy", legacy)
    return app


@contextlib.contextmanager
def hosted(
    host: str, server: str, *, helper: bool = True
) -> Iterator[tuple[RunningServer, httpx.Client, list[str], threading.Event]]:
    events: list[str] = []
    release = threading.Event()
    app = host_app(host, legacy_app(events, release), events, helper=helper)
    with serve(app, server) as running, httpx.Client(base_url=running.url) as client:
        yield running, client, events, release


@pytest.mark.parametrize("server", ASGI_SERVERS)
@pytest.mark.parametrize("host", HOSTS)
def test_hosted_routes_below_the_prefix(host: str, server: str) -> None:
    with hosted(host, server) as (running, client, _, _):
        assert client.get("/").text == "host"
        assert client.get("/legacy/plain").text == "plain"
        assert client.get("/legacy/hello/bob").json()["name"] == "bob"
        missing = client.get("/legacy/missing")
        assert (missing.status_code, missing.text) == (404, "404: Not Found")
        wrong_method = client.post("/legacy/plain")
        assert wrong_method.status_code == 405
        assert set(wrong_method.headers["allow"].split(",")) == {"GET", "HEAD"}


@pytest.mark.parametrize("server", ASGI_SERVERS)
@pytest.mark.parametrize("host", HOSTS)
def test_hosted_urls_include_the_prefix(host: str, server: str) -> None:
    with hosted(host, server) as (running, client, _, _):
        data = client.get("/legacy/hello/w%C3%B6rld%20x?a=1&a=%C3%A9").json()
        assert data["name"] == "wörld x"
        assert data["url"] == f"{running.url}/legacy/hello/w%C3%B6rld%20x?a=1&a=%C3%A9"
        assert data["rel_url"] == "/hello/w%C3%B6rld%20x?a=1&a=%C3%A9"
        assert data["path"] == "/hello/wörld x"
        assert data["raw_path"] == "/hello/w%C3%B6rld%20x?a=1&a=%C3%A9"
        assert data["query"] == ["1", "é"]
        # url_for is relative to the asgiweb app; absolute_url adds host and prefix.
        assert data["url_for"] == "/hello/again"
        assert data["absolute"] == f"{running.url}/legacy/hello/again"
        # An encoded slash stays inside its segment.
        assert client.get("/legacy/hello/a%2Fb").json()["name"] == "a/b"


@pytest.mark.parametrize("server", ASGI_SERVERS)
@pytest.mark.parametrize("host", HOSTS)
def test_hosted_bodies_both_ways(host: str, server: str) -> None:
    with hosted(host, server) as (running, client, _, release):
        expected = {"size": len(BODY), "sha256": _digest(BODY)}
        assert client.post("/legacy/upload", content=BODY).json() == expected
        assert client.post("/legacy/upload", content=_pieces(BODY)).json() == expected
        pieces = _read_streamed(client, "/legacy/stream", release)
        assert b"".join(pieces) == b"first\nsecond\nlast\n"


@pytest.mark.parametrize("server", ASGI_SERVERS)
@pytest.mark.parametrize("host", HOSTS)
def test_hosted_lifespan_through_the_helper(host: str, server: str) -> None:
    with hosted(host, server) as (running, client, events, _):
        assert client.get("/legacy/ready").text == "ready"
        assert events == ["host startup", "legacy ctx enter", "legacy startup"]
    assert events == [
        "host startup",
        "legacy ctx enter",
        "legacy startup",
        "legacy shutdown",
        "legacy ctx exit",
        "legacy cleanup",
        "host shutdown",
    ]


@pytest.mark.parametrize("server", ASGI_SERVERS)
def test_lifespan_runs_when_the_server_sends_it(server: str) -> None:
    # Served directly, the app gets the lifespan events; its startup may set state.
    events: list[str] = []
    with serve(legacy_app(events, threading.Event()), server) as running:
        assert httpx.get(running.url + "/ready").text == "ready"
    assert events == [
        "legacy ctx enter",
        "legacy startup",
        "legacy shutdown",
        "legacy ctx exit",
        "legacy cleanup",
    ]


@pytest.mark.parametrize("host", HOSTS)
def test_hosts_do_not_forward_lifespan_to_mounted_apps(host: str) -> None:
    # Documents why the helper exists: without it the mounted app never starts.
    with hosted(host, "uvicorn", helper=False) as (running, client, events, _):
        assert client.get("/legacy/plain").text == "plain"
    assert events == ["host startup", "host shutdown"]


# -- Starlette, FastAPI and WSGI inside asgiweb ----------------------------------------------


def starlette_inner(events: list[str], release: threading.Event) -> Starlette:
    async def info(request: Request) -> JSONResponse:
        scope = request.scope
        return JSONResponse(
            {
                "rest": request.path_params["rest"],
                "root_path": scope["root_path"],
                "path": scope["path"],
                "raw_path": scope["raw_path"].decode("latin-1"),
                "url": str(request.url),
                "url_for": str(request.url_for("info", rest="x")),
                "query": request.query_params.multi_items(),
                "client": request.client.host if request.client else None,
                "http_version": scope["http_version"],
                "token": getattr(request.state, "token", None),
                "header": request.headers.getlist("x-repeat"),
            }
        )

    async def echo(request: Request) -> JSONResponse:
        data = bytearray()
        async for piece in request.stream():
            data += piece
        return JSONResponse({"size": len(data), "sha256": _digest(bytes(data))})

    async def stream(request: Request) -> StreamingResponse:
        async def pieces() -> AsyncIterator[bytes]:
            yield b"first\n"
            assert await asyncio.to_thread(release.wait, GOT_FIRST_CHUNK)
            yield b"second\n"

        return StreamingResponse(pieces(), media_type="text/plain")

    async def cookies(request: Request) -> Response:
        response = Response(b"", status_code=204, headers={"x-custom": "yes"})
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    @contextlib.asynccontextmanager
    async def inner_lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
        events.append("inner startup")
        yield {"token": "from-lifespan"}
        events.append("inner shutdown")

    return Starlette(
        routes=[
            Route("/info/{rest:path}", info, name="info"),
            Route("/echo", echo, methods=["POST"]),
            Route("/stream", stream),
            Route("/cookies", cookies),
        ],
        lifespan=inner_lifespan,
    )


def outer_app(events: list[str]) -> web.Application:
    async def home(request: web.Request) -> web.Response:
        return web.Response(text="asgiweb " + request.path)

    async def started(app: web.Application) -> None:
        events.append("outer startup")

    async def cleaned(app: web.Application) -> None:
        events.append("outer cleanup")

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/newer", home)  # shares the mount's first letters, not its segment
    app.on_startup.append(started)
    app.on_cleanup.append(cleaned)
    return app


@contextlib.contextmanager
def mounted_starlette(
    serve_app: Callable[..., Any], *, lifespan: bool = False
) -> Iterator[tuple[RunningServer, httpx.Client, list[str], threading.Event]]:
    events: list[str] = []
    release = threading.Event()
    app = outer_app(events)
    resource = mount_asgi(app, "/new", starlette_inner(events, release), lifespan=lifespan)
    assert isinstance(resource, ASGIMountResource)
    with serve_app(app) as running, httpx.Client(base_url=running.url) as client:
        yield running, client, events, release


def test_starlette_mounted_routes_and_scope(serve_app: Callable[..., Any]) -> None:
    with mounted_starlette(serve_app) as (running, client, _, _):
        assert client.get("/").text == "asgiweb /"
        assert client.get("/newer").text == "asgiweb /newer"
        target = "/new/info/a%20b/caf%C3%A9%2Fx?q=1&q=%C3%A9"
        data = client.get(target, headers=[("X-Repeat", "1"), ("X-Repeat", "2")]).json()
        assert data["rest"] == "a b/café/x"
        assert data["root_path"] == "/new"
        assert data["path"] == "/new/info/a b/café/x"
        assert data["raw_path"] == "/new/info/a%20b/caf%C3%A9%2Fx"
        # Starlette builds request.url from the decoded path, as under any server.
        assert data["url"] == running.url + "/new/info/a b/café/x?q=1&q=%C3%A9"
        assert data["url_for"] == f"{running.url}/new/info/x"
        assert data["query"] == [["q", "1"], ["q", "é"]]
        assert data["client"] == "127.0.0.1"
        assert data["http_version"] == "1.1"
        assert data["header"] == ["1", "2"]
        assert data["token"] is None  # no lifespan asked for: no lifespan state
        missing = client.get("/new/missing")
        assert (missing.status_code, missing.text) == (404, "Not Found")
        head = client.head("/new/info/x")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == len(client.get("/new/info/x").content)


def test_starlette_mounted_bodies_and_headers(serve_app: Callable[..., Any]) -> None:
    with mounted_starlette(serve_app) as (running, client, _, release):
        expected = {"size": len(BODY), "sha256": _digest(BODY)}
        assert client.post("/new/echo", content=BODY).json() == expected
        assert client.post("/new/echo", content=_pieces(BODY)).json() == expected
        assert client.post("/new/echo").json() == {"size": 0, "sha256": _digest(b"")}
        pieces = _read_streamed(client, "/new/stream", release)
        assert b"".join(pieces) == b"first\nsecond\n"
        cookies = client.get("/new/cookies")
        assert cookies.status_code == 204
        assert cookies.headers["x-custom"] == "yes"
        assert [c.split(";")[0] for c in cookies.headers.get_list("set-cookie")] == ["a=1", "b=2"]


def test_starlette_lifespan_runs_with_the_asgiweb_app(serve_app: Callable[..., Any]) -> None:
    with mounted_starlette(serve_app, lifespan=True) as (running, client, events, _):
        assert client.get("/new/info/x").json()["token"] == "from-lifespan"
        assert events == ["inner startup", "outer startup"]
    assert events == ["inner startup", "outer startup", "inner shutdown", "outer cleanup"]


class Item(BaseModel):
    name: str
    price: float


def fastapi_inner(release: threading.Event) -> FastAPI:
    api = FastAPI()

    @api.get("/items/{item_id}")
    async def read_item(item_id: int, request: Request) -> dict[str, Any]:
        return {"item_id": item_id, "root_path": request.scope["root_path"]}

    @api.post("/items")
    async def create_item(item: Item) -> dict[str, Any]:
        return {"name": item.name, "price": item.price}

    @api.get("/stream")
    async def stream() -> StreamingResponse:
        async def pieces() -> AsyncIterator[bytes]:
            yield b"first\n"
            assert await asyncio.to_thread(release.wait, GOT_FIRST_CHUNK)
            yield b"second\n"

        return StreamingResponse(pieces(), media_type="text/plain")

    return api


def test_fastapi_mounted(serve_app: Callable[..., Any]) -> None:
    release = threading.Event()
    app = outer_app([])
    mount_asgi(app, "/api", fastapi_inner(release))
    with serve_app(app) as running, httpx.Client(base_url=running.url) as client:
        assert client.get("/").text == "asgiweb /"
        assert client.get("/api/items/3").json() == {"item_id": 3, "root_path": "/api"}
        invalid = client.get("/api/items/three")
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["loc"] == ["path", "item_id"]
        created = client.post("/api/items", json={"name": "pen", "price": 1.5})
        assert created.json() == {"name": "pen", "price": 1.5}
        assert client.get("/api/openapi.json").json()["servers"] == [{"url": "/api"}]
        assert b"".join(_read_streamed(client, "/api/stream", release)) == b"first\nsecond\n"
        assert client.get("/api/nothing").json() == {"detail": "Not Found"}


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/echo":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("201 Created", [("Content-Type", "application/octet-stream")])
        return [body]
    if environ["PATH_INFO"] == "/pieces":
        start_response("200 OK", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        return iter([b"one,", b"two,", b"three"])
    keys = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_PROTOCOL")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({key: environ[key] for key in keys}).encode()]


def test_wsgi_mounted(serve_app: Callable[..., Any]) -> None:
    app = outer_app([])
    mount_wsgi(app, "/old", wsgi_app)
    with serve_app(app) as running, httpx.Client(base_url=running.url) as client:
        assert client.get("/").text == "asgiweb /"
        assert client.get("/old/report/x?y=1").json() == {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "/old",
            "PATH_INFO": "/report/x",
            "QUERY_STRING": "y=1",
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        echoed = client.post("/old/echo", content=BODY)
        assert (echoed.status_code, echoed.content) == (201, BODY)
        pieces = client.get("/old/pieces")
        assert pieces.content == b"one,two,three"
        assert pieces.headers.get_list("set-cookie") == ["a=1", "b=2"]


# -- lifespan edge cases, without a server ----------------------------------------------------


def _lifespan_app(behaviour: str, calls: list[str] | None = None) -> Callable[..., Any]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if calls is not None:
            calls.append(scope["type"])
        if behaviour == "raises":
            raise ValueError("no lifespan here")
        if behaviour == "returns":
            return
        await receive()
        if behaviour == "startup fails":
            await send({"type": "lifespan.startup.failed", "message": "no database"})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "stuck"})

    return app


@pytest.mark.parametrize("behaviour", ["raises", "returns"])
def test_lifespan_not_supported_is_tolerated(
    behaviour: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="asgiweb.mount")
    calls: list[str] = []
    events: list[str] = []

    async def main() -> None:
        app = web.Application()
        mount_asgi(app, "/x", _lifespan_app(behaviour, calls), lifespan=True)
        mount_asgi(app, "/wsgi", WsgiToAsgi(wsgi_app), lifespan=True)
        app.on_startup.append(lambda app: _record(events, "startup"))
        app.on_cleanup.append(lambda app: _record(events, "cleanup"))
        async with lifespan(app):
            events.append("serving")

    asyncio.run(main())
    # Asked once, at startup; never again at shutdown; the host's own lifespan goes on.
    assert calls == ["lifespan"]
    assert events == ["startup", "serving", "cleanup"]
    # Raising is how an ASGI app says "no lifespan" (asgiref's WSGI adapter does): said at INFO.
    unsupported = [r for r in caplog.records if "does not support ASGI lifespan" in r.getMessage()]
    assert [r.levelno for r in unsupported] == [logging.INFO] * (2 if behaviour == "raises" else 1)


async def _record(events: list[str], event: str) -> None:
    events.append(event)


def test_lifespan_failures_surface() -> None:
    async def main() -> None:
        app = web.Application()
        mount_asgi(app, "/x", _lifespan_app("startup fails"), lifespan=True)
        with pytest.raises(RuntimeError, match="startup failed: no database"):
            async with lifespan(app):
                pass
        app = web.Application()
        mount_asgi(app, "/x", _lifespan_app("shutdown fails"), lifespan=True)
        with pytest.raises(RuntimeError, match="shutdown failed: stuck"):
            async with lifespan(app):
                pass

    asyncio.run(main())


# -- the mounted app's edges, on the native server --------------------------------------------


def test_mount_at_root_and_inside_a_subapp() -> None:
    inner = starlette_inner([], threading.Event())
    app = outer_app([])
    app.router.add_get("/native", _native)
    sub = web.Application()
    deep = mount_asgi(sub, "/inner", inner, name="deep")
    app.add_subapp("/sub", sub)
    mount_asgi(app, "/", inner)
    assert str(deep.url_for(path="info/a b")) == "/sub/inner/info/a%20b"
    assert deep.get_info()["prefix"] == "/sub/inner"
    assert len(deep) == 1 and next(iter(deep)).name == "deep"
    with serve(app, "native") as running, httpx.Client(base_url=running.url) as client:
        assert client.get("/native").text == "native"
        assert client.get("/info/top").json()["root_path"] == ""
        assert client.get("/info/top").json()["path"] == "/info/top"
        assert client.get("/sub/inner/info/deep").json()["root_path"] == "/sub/inner"
        assert client.get("/elsewhere").text == "Not Found"  # the fallback answers


async def _native(request: web.Request) -> web.Response:
    return web.Response(text="native")


def _bad_app(kind: str) -> Callable[..., Any]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if kind == "nothing":
            return
        if kind == "body first":
            await send({"type": "http.response.body", "body": b"x"})
            return
        headers = [(b"content-length", b"5")]
        if kind == "two lengths":
            headers.append((b"content-length", b"9"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if kind == "start only":
            return
        if kind == "too long later":
            await send({"type": "http.response.body", "body": b"123", "more_body": True})
            await send({"type": "http.response.body", "body": b"456"})
            return
        body = b"123456789" if kind == "too long" else b"12"
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.parametrize(
    ("kind", "logged"),
    [
        ("nothing", "ASGI callable returned without starting response"),
        ("body first", "Expected ASGI message 'http.response.start', but got 'http.response.body'"),
        ("start only", "ASGI callable returned without sending the response body"),
        ("too long", "Response content longer than Content-Length"),
        ("too short", "Response content shorter than Content-Length"),
        ("two lengths", "Conflicting Content-Length headers"),
    ],
)
def test_app_failing_before_its_response_gets_500(kind: str, logged: str) -> None:
    app = outer_app([])
    mount_asgi(app, "/bad", _bad_app(kind))
    with (
        serve(app, "native", expect_errors=True) as running,
        httpx.Client(base_url=running.url) as client,
    ):
        assert client.get("/bad/").status_code == 500
        assert client.get("/").text == "asgiweb /"  # the connection is still usable
    assert [f"RuntimeError: {logged}" in error for error in running.errors] == [True]


def test_body_past_content_length_aborts_the_connection() -> None:
    # The extra bytes never reach the wire: they would be read as the next response.
    app = outer_app([])
    mount_asgi(app, "/bad", _bad_app("too long later"))
    with (
        serve(app, "native", expect_errors=True) as running,
        httpx.Client(base_url=running.url) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/bad/")
        assert client.get("/").text == "asgiweb /"
    assert [
        "RuntimeError: Response content longer than Content-Length" in error
        for error in running.errors
    ] == [True]


def _watched(inner: Callable[..., Any], ended: threading.Event) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await inner(scope, receive, send)
        finally:
            ended.set()

    return app


def test_client_leaving_stops_a_mounted_stream(caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    ended = threading.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"tick\n" * 100
            await asyncio.sleep(0.01)

    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(endless(), media_type="text/plain")

    inner = Starlette(routes=[Route("/stream", stream)])
    app = outer_app([])
    mount_asgi(app, "/new", _watched(inner, ended))
    with serve(app, "native") as running:
        with socket.create_connection(("127.0.0.1", running.port)) as sock:
            sock.sendall(b"GET /new/stream HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 200 OK")
        assert ended.wait(5)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


def test_receive_reports_a_client_that_left(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asgi_app, "DISCONNECT_POLL", 0.02)
    messages: list[str] = []
    got_body = threading.Event()
    ended = threading.Event()

    async def waiter(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            messages.append(message["type"])
            if message["type"] == "http.disconnect":
                return
            if not message["more_body"]:
                got_body.set()

    app = outer_app([])
    mount_asgi(app, "/poll", _watched(waiter, ended))
    with serve(app, "native") as running:
        with socket.create_connection(("127.0.0.1", running.port)) as sock:
            sock.sendall(b"POST /poll/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
            assert got_body.wait(5)  # leave only once the app is waiting in receive()
        assert ended.wait(5)
    assert messages[-1] == "http.disconnect"
    assert set(messages[:-1]) == {"http.request"}


def test_body_read_by_a_middleware_still_reaches_the_mounted_app() -> None:
    @web.middleware
    async def read_first(request: web.Request, handler: Any) -> web.StreamResponse:
        assert len(await request.read()) == len(BODY)
        return await handler(request)

    app = web.Application(middlewares=[read_first])
    mount_asgi(app, "/new", starlette_inner([], threading.Event()))
    with serve(app, "native") as running:
        reply = httpx.post(running.url + "/new/echo", content=BODY, timeout=10)
    assert reply.json() == {"size": len(BODY), "sha256": _digest(BODY)}


def test_wsgi_calls_run_concurrently_in_the_executor() -> None:
    # Both requests must be inside the WSGI app at once to pass the barrier.
    barrier = threading.Barrier(2, timeout=5)

    def app_(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        barrier.wait()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [threading.current_thread().name.encode()]

    app = outer_app([])
    mount_wsgi(app, "/old", app_, executor=ThreadPoolExecutor(2, thread_name_prefix="wsgi"))
    with serve(app, "native") as running:
        with ThreadPoolExecutor(2) as clients:
            replies = list(clients.map(httpx.get, [running.url + "/old/"] * 2))
    assert [r.status_code for r in replies] == [200, 200]
    assert all(r.text.startswith("wsgi") for r in replies)


def test_websocket_under_the_prefix_is_refused() -> None:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()

    app = outer_app([])
    mount_asgi(app, "/new", Starlette(routes=[WebSocketRoute("/ws", endpoint)]))
    with serve(app, "native") as running:
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{running.port}/new/ws", open_timeout=5)
    assert refused.value.response.status_code == 404


@pytest.mark.parametrize(
    ("name", "server", "path", "expected"),
    [
        ("mount_in_starlette", "uvicorn", "/legacy/hello/bob", '"absolute": "http://'),
        ("mount_in_fastapi", "hypercorn", "/legacy/hello/bob", "Hello, bob; next: http://"),
        ("mount_foreign", "native", "/new/items/3", '"db":"connected"'),
        ("mount_foreign", "uvicorn", "/new/items/3", '"db":"connected"'),
        ("mount_foreign", "native", "/old/report", "old report at /old/report"),
        ("mount_foreign", "uvicorn", "/old/report", "old report at /old/report"),
    ],
)
def test_examples(name: str, server: str, path: str, expected: str) -> None:
    app = load_example(name).app
    with serve(app, server) as running:
        reply = httpx.get(running.url + path)
    assert reply.status_code == 200
    assert expected in reply.text
