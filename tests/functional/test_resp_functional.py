"""Responses over the wire on every path: a multipart part relayed as the body, a body
written in pieces under its own Content-Length, control characters kept out of the
head, and the content coding chosen as aiohttp chooses it."""

from __future__ import annotations

import asyncio
import base64
import socket
import zlib

import httpx

from asgiweb import web


def relay_app() -> web.Application:
    app = web.Application(client_max_size=2)  # post() would refuse these bodies; parts stream

    async def relay(request: web.Request) -> web.Response:
        reader = await request.multipart()
        part = await reader.next()
        return web.Response(body=part)

    app.router.add_post("/relay", relay)
    return app


def test_body_part_relayed_as_the_body_with_its_names(serve_app) -> None:
    with serve_app(relay_app()) as server:
        r = httpx.post(server.url + "/relay", files={"file": ("foo bar.txt", b"test" * 5000)})
    assert r.status_code == 200
    assert r.content == b"test" * 5000
    assert r.headers["content-disposition"] == 'attachment; name="file"; filename="foo bar.txt"'
    assert r.headers["content-type"] == "application/octet-stream"


def test_body_part_relayed_decoded_and_without_names(serve_app) -> None:
    payload = b"\x00binary\xff" * 100
    body = (
        b"--XyZ\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(payload)
        + b"\r\n--XyZ--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    with serve_app(relay_app()) as server:
        r = httpx.post(server.url + "/relay", content=body, headers=headers)
    assert r.status_code == 200
    assert r.content == payload
    assert "content-disposition" not in r.headers


def pieces_app() -> web.Application:
    async def pieces(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": "8"})
        await resp.prepare(request)
        await asyncio.sleep(0.01)
        await resp.write(b"test")
        await asyncio.sleep(0.01)
        await resp.write(b"more")
        await resp.write_eof()
        return resp

    async def bad_header(request: web.Request) -> web.Response:
        resp = web.Response(text="never sent")
        resp.headers["X-Bad"] = "a\x01b"
        return resp

    async def bad_reason(request: web.Request) -> web.Response:
        try:
            return web.Response(text="never sent", reason="OK\x7f")
        except ValueError as exc:
            return web.Response(status=400, text=str(exc))

    app = web.Application()
    app.router.add_get("/pieces", pieces)
    app.router.add_get("/bad-header", bad_header)
    app.router.add_get("/bad-reason", bad_reason)
    return app


def test_stream_response_with_its_own_length_in_pieces_keeps_the_connection(serve_app) -> None:
    with serve_app(pieces_app()) as server, httpx.Client() as client:
        first = client.get(server.url + "/pieces")
        second = client.get(server.url + "/pieces")
    assert first.content == second.content == b"testmore"
    assert first.headers["content-length"] == "8"


def test_control_character_in_a_header_value_is_never_sent(serve_app) -> None:
    with serve_app(pieces_app(), expect_errors=True) as server:
        r = httpx.get(server.url + "/bad-header")
        refused = httpx.get(server.url + "/bad-reason")
    assert r.status_code == 500 and "x-bad" not in r.headers
    assert [
        "Header value of 'X-Bad' contains a forbidden control character" in error
        for error in server.errors
    ] == [True]
    assert refused.status_code == 400 and "control characters" in refused.text


def compression_app() -> web.Application:
    async def squeeze(request: web.Request) -> web.Response:
        resp = web.Response(body=b"squeeze " * 500)
        resp.enable_compression()
        return resp

    app = web.Application()
    app.router.add_get("/squeeze", squeeze)
    return app


def test_compression_picks_deflate_when_both_are_accepted(serve_app) -> None:
    with serve_app(compression_app()) as server:
        headers = {"Accept-Encoding": "gzip, deflate"}
        with httpx.stream("GET", server.url + "/squeeze", headers=headers) as r:
            raw = b"".join(r.iter_raw())
    assert r.headers["content-encoding"] == "deflate"
    assert zlib.decompress(raw) == b"squeeze " * 500


def framing_app() -> web.Application:
    async def chunked(request: web.Request) -> web.Response:
        resp = web.Response(text="chunked body")  # untouched since the constructor...
        resp.enable_chunked_encoding()  # ...but no longer framed by its length
        return resp

    async def keep_alive(request: web.Request) -> web.Response:
        return web.Response(text=str(request.keep_alive))

    app = web.Application()
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/keep-alive", keep_alive)
    return app


def test_an_untouched_response_made_chunked_is_sent_chunked(serve_app) -> None:
    with serve_app(framing_app()) as server, httpx.Client() as client:
        r = client.get(server.url + "/chunked")
    assert r.text == "chunked body"
    assert "content-length" not in r.headers
    assert r.headers["transfer-encoding"] == "chunked"


def test_connection_options_are_tokens_on_every_path(serve_app) -> None:
    """``closed`` is not ``close``: the request stays kept-alive (RFC 9112 9.3)."""
    with serve_app(framing_app()) as server:
        answers = []
        for value in ("closed", "x-close", "close"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(
                    b"GET /keep-alive HTTP/1.1\r\nHost: t\r\nConnection: "
                    + value.encode()
                    + b"\r\n\r\n"
                )
                data = b""
                while not data.endswith((b"True", b"False")):
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                answers.append(data.rsplit(b"\r\n\r\n", 1)[-1])
    assert answers == [b"True", b"True", b"False"]
