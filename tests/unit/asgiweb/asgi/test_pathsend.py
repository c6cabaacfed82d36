"""``http.response.pathsend``: a whole, unchanged file goes to the ASGI server by name
when the scope offers the extension; every other file response streams as before."""

from __future__ import annotations

import asyncio
import gzip
import os
from pathlib import Path
from typing import Any

import pytest

from asgiweb import web

PATHSEND = {"http.response.pathsend": {}}
CONTENT = b"0123456789" * 1000


def make_app(root: Path) -> web.Application:
    async def whole(request: web.Request) -> web.FileResponse:
        # A name with ".." in it: the server must be given the absolute, normal one.
        return web.FileResponse(root / "sub" / ".." / "data.bin")

    async def compressed(request: web.Request) -> web.FileResponse:
        response = web.FileResponse(root / "data.bin")
        response.enable_compression()
        return response

    app = web.Application()
    app.router.add_route("*", "/file", whole)
    app.router.add_get("/compressed", compressed)
    app.router.add_static("/static", root)
    return app


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "data.bin").write_bytes(CONTENT)
    (tmp_path / "page.txt").write_bytes(b"plain text\n")
    (tmp_path / "page.txt.gz").write_bytes(gzip.compress(b"plain text\n"))
    return tmp_path


def call(
    app: web.Application,
    path: str,
    *,
    extensions: dict[str, Any] | None,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    body: bytes = b"",
    log: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Drive the application as an ASGI server would; the messages it sent."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    if body:
        scope["headers"].append((b"content-length", str(len(body)).encode()))
    if extensions is not None:
        scope["extensions"] = extensions
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if incoming:
            if log is not None:
                log.append("received the body")
            return incoming.pop()
        await asyncio.Event().wait()  # the client stays until the server is done
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        assert not sent or sent[-1].get("more_body", True), "a message after the end"
        assert not sent or sent[-1]["type"] != "http.response.pathsend", "after pathsend"
        sent.append(message)
        if log is not None:
            log.append(message["type"])

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return sent


def headers_of(start: dict[str, Any]) -> dict[str, str]:
    assert start["type"] == "http.response.start"
    return {name.decode(): value.decode() for name, value in start["headers"]}


def streamed_body(sent: list[dict[str, Any]]) -> bytes:
    assert all(m["type"] == "http.response.body" for m in sent[1:]), sent
    return b"".join(m.get("body", b"") for m in sent[1:])


def test_a_whole_file_goes_by_its_absolute_name_with_its_validators(root: Path) -> None:
    sent = call(make_app(root), "/file", extensions=PATHSEND)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
    assert sent[1]["path"] == str(root / "data.bin")
    assert os.path.isabs(sent[1]["path"])
    start = sent[0]
    assert start["status"] == 200
    headers = headers_of(start)
    st = (root / "data.bin").stat()
    assert headers["content-length"] == str(len(CONTENT))
    assert headers["etag"] == f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    assert "last-modified" in headers
    assert headers["accept-ranges"] == "bytes"
    assert "transfer-encoding" not in headers


def test_without_the_extension_the_file_streams_as_before(root: Path) -> None:
    for extensions in (None, {}, {"http.response.trailers": {}}):
        sent = call(make_app(root), "/file", extensions=extensions)
        assert sent[0]["status"] == 200
        assert headers_of(sent[0])["content-length"] == str(len(CONTENT))
        assert streamed_body(sent) == CONTENT


@pytest.mark.parametrize("byte_range", [b"bytes=10-19", b"bytes=0-", b"bytes=-5"])
def test_a_range_is_streamed_even_when_it_covers_the_whole_file(
    root: Path, byte_range: bytes
) -> None:
    sent = call(make_app(root), "/file", extensions=PATHSEND, headers=[(b"range", byte_range)])
    assert sent[0]["status"] == 206
    body = streamed_body(sent)
    assert (
        body
        == {b"bytes=10-19": CONTENT[10:20], b"bytes=0-": CONTENT, b"bytes=-5": CONTENT[-5:]}[
            byte_range
        ]
    )
    assert headers_of(sent[0])["content-length"] == str(len(body))


def test_head_sends_the_head_and_no_file(root: Path) -> None:
    sent = call(make_app(root), "/file", extensions=PATHSEND, method="HEAD")
    assert sent[0]["status"] == 200
    assert headers_of(sent[0])["content-length"] == str(len(CONTENT))
    assert streamed_body(sent) == b""


def test_conditional_requests_answer_as_without_the_extension(root: Path) -> None:
    app = make_app(root)
    etag = headers_of(call(app, "/file", extensions=PATHSEND)[0])["etag"]
    for condition, status in [
        ((b"if-none-match", etag.encode()), 304),
        ((b"if-match", b'"other"'), 412),
    ]:
        sent = call(app, "/file", extensions=PATHSEND, headers=[condition])
        assert sent[0]["status"] == status
        assert streamed_body(sent) == b""
    # A condition that holds leaves the whole file: it goes by name.
    sent = call(app, "/file", extensions=PATHSEND, headers=[(b"if-match", etag.encode())])
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]


def test_compression_on_the_fly_streams_the_compressed_bytes(root: Path) -> None:
    sent = call(
        make_app(root),
        "/compressed",
        extensions=PATHSEND,
        headers=[(b"accept-encoding", b"gzip")],
    )
    assert headers_of(sent[0])["content-encoding"] == "gzip"
    assert gzip.decompress(streamed_body(sent)) == CONTENT


def test_static_files_go_by_name_and_a_precompressed_sibling_by_its_own(root: Path) -> None:
    app = make_app(root)
    sent = call(app, "/static/page.txt", extensions=PATHSEND)
    assert sent[1] == {"type": "http.response.pathsend", "path": str(root / "page.txt")}
    assert headers_of(sent[0])["content-length"] == "11"

    sent = call(
        app, "/static/page.txt", extensions=PATHSEND, headers=[(b"accept-encoding", b"gzip")]
    )
    assert sent[1] == {"type": "http.response.pathsend", "path": str(root / "page.txt.gz")}
    headers = headers_of(sent[0])
    assert headers["content-encoding"] == "gzip"
    assert headers["content-length"] == str((root / "page.txt.gz").stat().st_size)


def test_an_unread_request_body_is_consumed_before_the_file_goes(root: Path) -> None:
    # As write_eof() does: a server may close a connection whose request did not end
    # before its response did (hypercorn does).
    log: list[str] = []
    call(make_app(root), "/file", extensions=PATHSEND, method="POST", body=b"x" * 100, log=log)
    assert log == ["http.response.start", "received the body", "http.response.pathsend"]


def test_a_missing_file_is_404_with_the_extension_offered(root: Path) -> None:
    sent = call(make_app(root), "/static/nothing.txt", extensions=PATHSEND)
    assert sent[0]["status"] == 404
    assert all(m["type"] != "http.response.pathsend" for m in sent)
