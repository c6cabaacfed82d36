"""The ASGI adapter driven by hand-made scopes: root_path, lifespan, streaming bodies."""

from __future__ import annotations

import asyncio
import json
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
    assert json.loads(sent[1]["body"]) == {"pieces": 2, "total": 5}


def body_app(
    client_max_size: int = 1024**2, first: int = 0, seen: list[str] | None = None
) -> web.Application:
    """Reads ``first`` bytes with readany() (0: none), then the rest with read(); a read
    that fails is noted in ``seen``."""
    app = web.Application(client_max_size=client_max_size)

    async def handler(request: web.Request) -> web.Response:
        head = await request.content.readany() if first else b""
        try:
            rest = await request.read()
        except ConnectionResetError as exc:
            if seen is not None:
                seen.append(f"{exc} {request.transport is None}")
            raise
        return web.json_response({"head": head.decode(), "rest": rest.decode()})

    app.router.add_post("/", handler)
    return app


def body_scope() -> dict[str, Any]:
    scope = http_scope("/", b"/")
    scope["method"] = "POST"
    scope["headers"].append((b"transfer-encoding", b"chunked"))
    return scope


def test_read_takes_every_message_of_the_body() -> None:
    sent = asyncio.run(call(body_app(), body_scope(), [b"ab", b"", b"cde", b"f"]))
    assert json.loads(sent[1]["body"]) == {"head": "", "rest": "abcdef"}


def test_read_after_readany_gets_the_rest() -> None:
    sent = asyncio.run(call(body_app(first=1), body_scope(), [b"ab", b"cde", b"f"]))
    assert json.loads(sent[1]["body"]) == {"head": "ab", "rest": "cdef"}


def test_read_stops_pulling_one_message_past_client_max_size() -> None:
    asked = 0
    asked_before_answer = None
    pieces = [b"x" * 4] * 100

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": pieces.pop(), "more_body": bool(pieces)}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal asked_before_answer
        if asked_before_answer is None:
            asked_before_answer = asked
        sent.append(message)

    asyncio.run(body_app(client_max_size=10)(body_scope(), receive, send))
    assert sent[0]["status"] == 413
    assert b"10" in sent[1]["body"] and b"12" in sent[1]["body"]  # limit and size read
    # 12 bytes, 3 messages: the one past the limit was the last read; the rest of the body
    # is read and dropped once the answer is decided (so the connection stays usable).
    assert asked_before_answer == 3
    assert asked == 100


def test_client_leaving_mid_body_fails_the_read() -> None:
    messages = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    seen: list[str] = []
    asyncio.run(body_app(seen=seen)(body_scope(), receive, send))
    # The handler saw the error, the request knows the client is gone, nothing was sent.
    assert seen == ["client disconnected True"]
    assert sent == []


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
