"""The ASGI adapter against hostile scopes, in process (issue 16)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from asgiweb import web
from asgiweb.asgi.adapter import BadRequest, _head_from_scope
from asgiweb.asgi.websocket import ASGIWebSocketChannel
from asgiweb.ws_types import WebSocketError, WSMsgType


def scope(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": "/p",
        "raw_path": b"/p",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "headers": [(b"host", b"example.com")],
    }
    base.update(changes)
    return base


def test_headers_of_a_request_with_a_body_are_copied() -> None:
    headers = [(b"host", b"a"), (b"transfer-encoding", b"chunked")]
    head = _head_from_scope(scope(method="POST", headers=headers))
    headers.append((b"x-trailer", b"late"))  # as uvicorn does when the trailer arrives
    assert "X-Trailer" not in head.headers
    assert len(head.raw_headers) == 2


@pytest.mark.parametrize(
    ("version", "headers", "refused"),
    [
        ("1.1", [], "Missing Host header"),
        ("1.1", [(b"host", b"a"), (b"host", b"b")], "Duplicate Host header"),
        ("1.0", [(b"host", b"a"), (b"host", b"b")], "Duplicate Host header"),
        ("1.0", [], None),
        ("2", [], None),  # :authority instead
        ("3", [], None),
    ],
)
def test_host_count_rule(version: str, headers: list[Any], refused: str | None) -> None:
    if refused is None:
        assert _head_from_scope(scope(http_version=version, headers=headers)).method == "GET"
    else:
        with pytest.raises(BadRequest, match=refused):
            _head_from_scope(scope(http_version=version, headers=headers))


def test_absolute_form_path_takes_path_scheme_and_authority_from_the_target() -> None:
    target = "https://user@other.example:8443//evil.com"
    head = _head_from_scope(scope(path=target, raw_path=target.encode()))
    assert (head.path, head.scheme, head.authority) == ("//evil.com", "https", "other.example:8443")
    head = _head_from_scope(scope(path="http://h", raw_path=b"http://h"))
    assert head.path == "/"


@pytest.mark.parametrize("target", ["evil.com", "http://", "http:///x", "1http://h/"])
def test_unroutable_target_is_refused(target: str) -> None:
    with pytest.raises(BadRequest, match="Invalid request target"):
        _head_from_scope(scope(path=target, raw_path=target.encode()))


def test_asterisk_target_is_left_alone() -> None:
    head = _head_from_scope(scope(method="OPTIONS", path="*", raw_path=b"*"))
    assert head.path == "*"


def test_refused_request_never_reaches_the_handler() -> None:
    called = []

    async def handler(request: web.Request) -> web.Response:
        called.append(request)
        return web.Response()

    app = web.Application()
    app.router.add_get("/p", handler)
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app(scope(headers=[]), receive, send))  # type: ignore[arg-type]
    assert not called
    assert sent[0]["status"] == 400
    assert sent[1]["body"] == b"400 Bad Request\n\nMissing Host header"


def channel_for(messages: list[Any], limit: int) -> tuple[ASGIWebSocketChannel, list[Any]]:
    sent: list[Any] = []
    queue = iter(messages)

    async def receive() -> Any:
        return next(queue)

    async def send(message: Any) -> None:
        sent.append(message)

    return ASGIWebSocketChannel({}, receive, send, limit), sent  # type: ignore[arg-type]


def test_channel_limit_counts_utf8_bytes_and_repeats_its_error() -> None:
    async def main() -> None:
        channel, _ = channel_for(
            [
                {"type": "websocket.receive", "text": "é" * 50},  # 100 bytes: at the limit
                {"type": "websocket.receive", "bytes": b"x" * 100},
                {"type": "websocket.receive", "text": "é" * 51},  # 51 characters, 102 bytes
            ],
            100,
        )
        assert (await channel.receive()).type is WSMsgType.TEXT
        assert (await channel.receive()).type is WSMsgType.BINARY
        with pytest.raises(WebSocketError) as info:
            await channel.receive()
        assert info.value.code == 1009
        assert str(info.value) == "Message size exceeds the limit of 100 bytes"
        with pytest.raises(WebSocketError):
            await channel.receive()

    asyncio.run(main())


def test_channel_limit_zero_is_unlimited() -> None:
    async def main() -> None:
        channel, _ = channel_for([{"type": "websocket.receive", "bytes": b"x" * 100_000}], 0)
        assert len((await channel.receive()).data) == 100_000

    asyncio.run(main())


def test_normalize_path_ignores_paths_that_are_not_origin_form() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def main() -> list[Any]:
        app = web.Application(middlewares=[web.normalize_path_middleware()])
        app.router.add_get("/a/", handler)
        sent: list[Any] = []

        async def receive() -> Any:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        for target in ("*", "//a", "/a"):
            one = scope(method="OPTIONS" if target == "*" else "GET")
            one.update(path=target, raw_path=target.encode())
            await app(one, receive, send)  # type: ignore[arg-type]
        return [message for message in sent if message["type"] == "http.response.start"]

    starts = asyncio.run(main())
    assert [start["status"] for start in starts] == [404, 308, 308]
    for start in starts[1:]:
        assert dict(start["headers"])[b"location"] == b"/a/"
