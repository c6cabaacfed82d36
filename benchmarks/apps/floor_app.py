"""The floor: a bare ASGI application that answers every endpoint with as little work as
ASGI allows, for ``uvicorn benchmarks.apps.floor_app:app`` and hypercorn.

No framework: canned heads, the body read as it comes, the file's bytes read once at
startup, WebSocket messages echoed as they are. What it costs per request is what the
ASGI server costs; a framework under the same server can only add to it. The report
sets every framework against it (see ``floor_table`` in ``benchmarks/report.py``), so a
target such as "1.2x Starlette under uvicorn" can be checked for being reachable at all.
"""

from __future__ import annotations

import json
from typing import Any

from .common import JSON_BODY, PLAINTEXT, data_file

_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
_JSON = [(b"content-type", b"application/json")]
_FILE = data_file().read_bytes()


def _head(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any]:
    length = (b"content-length", str(len(body)).encode())
    return {"type": "http.response.start", "status": status, "headers": [*headers, length]}


_CANNED: dict[str, tuple[dict[str, Any], bytes]] = {}
for _path, _headers, _body in (
    ("/plaintext", _TEXT, PLAINTEXT.encode()),
    ("/json", _JSON, json.dumps(JSON_BODY).encode()),
    ("/file", [(b"content-type", b"application/octet-stream")], _FILE),
):
    _CANNED[_path] = (_head(200, _headers, _body), _body)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    kind = scope["type"]
    if kind == "http":
        await _http(scope, receive, send)
    elif kind == "websocket":
        await _websocket(receive, send)
    elif kind == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return


async def _http(scope: dict[str, Any], receive: Any, send: Any) -> None:
    path = scope["path"]
    canned = _CANNED.get(path)
    if canned is not None:
        head, body = canned
    elif path == "/echo":
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        body = str(size).encode()
        head = _head(200, _TEXT, body)
    elif path.startswith("/users/"):  # /users/{id}/posts/{post}
        parts = path.split("/")
        body = json.dumps({"id": parts[2], "post": parts[4]}).encode()
        head = _head(200, _JSON, body)
    else:
        body = b"not found"
        head = _head(404, _TEXT, body)
    await send(head)
    await send({"type": "http.response.body", "body": body})


async def _websocket(receive: Any, send: Any) -> None:
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes")})
