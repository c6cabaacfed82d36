"""The ASGI adapter driven by hand-made scopes: root_path, lifespan, streaming bodies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from asgiweb import web


def make_app() -> web.Application:
    app = web.Application()

    async def show(request: web.Request) -> web.Response:
        return web.json_response(
            {"path": request.path, "raw": request.raw_path, "url": str(request.url)}
        )

    app.router.add_get("/items/{name}", show)
    return app


async def call(app: Any, scope: dict[str, Any], body: list[bytes] | None = None) -> list[dict]:
    sent: list[dict] = []
    chunks = list(body or [b""])

    async def receive() -> dict[str, Any]:
        if chunks:
            data = chunks.pop(0)
            return {"type": "http.request", "body": data, "more_body": bool(chunks)}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def http_scope(path: str, raw_path: bytes | None, root_path: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": raw_path,
        "root_path": root_path,
        "query_string": b"q=1",
        "headers": [(b"host", b"example.com")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


@pytest.mark.parametrize(
    "path, raw_path",
    [
        ("/mount/items/a b", b"/mount/items/a%20b"),  # path includes root_path (uvicorn, Starlette)
        ("/items/a b", b"/items/a%20b"),  # path below root_path (older servers)
        ("/mount/items/a b", None),  # no raw_path at all
    ],
)
def test_root_path_is_stripped_for_routing_and_kept_in_url(
    path: str, raw_path: bytes | None
) -> None:
    sent = asyncio.run(call(make_app(), http_scope(path, raw_path, "/mount")))
    assert sent[0]["status"] == 200
    import json

    data = json.loads(sent[1]["body"])
    assert data == {
        "path": "/items/a b",
        "raw": "/items/a%20b?q=1",
        "url": "http://example.com/mount/items/a%20b?q=1",
    }


def drive_lifespan(app: Any, events: list[str]) -> list[dict]:
    """Send ``events`` to the app's lifespan scope; return what it sent back."""
    incoming = [{"type": kind} for kind in events]
    sent: list[dict] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    return sent


def test_lifespan_runs_startup_and_cleanup() -> None:
    app = web.Application()
    events: list[str] = []

    async def ctx(app: web.Application):
        events.append("ctx-up")
        yield
        events.append("ctx-down")

    async def on_startup(app: web.Application) -> None:
        events.append("startup")

    async def on_shutdown(app: web.Application) -> None:
        events.append("shutdown")

    async def on_cleanup(app: web.Application) -> None:
        events.append("cleanup")

    app.cleanup_ctx.append(ctx)
    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)

    sent = drive_lifespan(app, ["lifespan.startup", "lifespan.shutdown"])
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == ["ctx-up", "startup", "shutdown", "ctx-down", "cleanup"]
    assert app.frozen


def test_failing_startup_reports_failed() -> None:
    app = web.Application()

    async def on_startup(app: web.Application) -> None:
        raise RuntimeError("db unreachable")

    app.on_startup.append(on_startup)

    sent = drive_lifespan(app, ["lifespan.startup"])
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "db unreachable" in sent[0]["message"]


def test_body_pulled_in_pieces() -> None:
    app = web.Application()

    async def echo(request: web.Request) -> web.Response:
        pieces = [chunk async for chunk in request.content.iter_any()]
        return web.json_response({"pieces": len(pieces), "total": sum(map(len, pieces))})

    app.router.add_post("/", echo)
    scope = http_scope("/", b"/")
    scope["method"] = "POST"
    scope["headers"].append((b"transfer-encoding", b"chunked"))
    sent = asyncio.run(call(app, scope, [b"ab", b"cde", b""]))
    import json

    assert json.loads(sent[1]["body"]) == {"pieces": 2, "total": 5}


def test_scope_fields_a_plain_request_does_not_need_are_read_when_asked() -> None:
    from asgiweb.asgi.adapter import _head_from_scope

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": "/a b",
        "raw_path": b"/a%20b",
        "query_string": b"x=1",
        "headers": [(b"host", b"example.com")],
        "scheme": "https",
        "client": ["10.0.0.1", 4321],  # an iterable, as ASGI allows
        "server": ("10.0.0.2", 443),
    }
    head = _head_from_scope(scope)
    assert (head.method, head.path, head.has_body) == ("GET", "/a%20b", False)
    assert head.keep_alive
    assert head.peername == ("10.0.0.1", 4321)
    assert (head.scheme, head.query_string, head.sockname) == ("https", "x=1", ("10.0.0.2", 443))
    assert head.transport is None and head.extra_info is None
    with pytest.raises(AttributeError, match="no_such_field"):
        head.no_such_field  # noqa: B018

    ws_head = _head_from_scope({**scope, "scheme": "wss"})
    ws_head.scheme = "https"  # set before anything was read: the fill must not undo it
    assert ws_head.query_string == "x=1"
    assert ws_head.scheme == "https"
