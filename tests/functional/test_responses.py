"""Responses on every path: cookies, compression, streaming, protocol rules, exceptions."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import json
import socket
import zlib

import httpx
import pytest

from asgiweb import web

# What write() did once write_eof() had sent the response: the client cannot see it.
AFTER_EOF = web.AppKey("after_eof", list)


def responses_app() -> web.Application:
    app = web.Application()
    app[AFTER_EOF] = []
    routes = web.RouteTableDef()

    @routes.get("/cookies/set")
    async def set_cookies(request: web.Request) -> web.Response:
        resp = web.Response(text="set")
        resp.set_cookie("sid", "abc 123", httponly=True, samesite="Lax", max_age=60)
        resp.set_cookie("chip", "x", secure=True, partitioned=True, samesite="None")
        resp.del_cookie("old")
        return resp

    @routes.get("/cookies/echo")
    async def echo_cookies(request: web.Request) -> web.Response:
        return web.json_response(dict(request.cookies))

    @routes.get("/compressed")
    async def compressed(request: web.Request) -> web.Response:
        resp = web.Response(text="squeeze me " * 1000)
        resp.enable_compression()
        return resp

    @routes.get("/compressed/forced")
    async def forced(request: web.Request) -> web.Response:
        resp = web.Response(body=b"deflated " * 600)
        resp.enable_compression(force=web.ContentCoding.deflate)
        return resp

    @routes.get("/stream")
    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"X-Stream": "1"})
        resp.content_type = "text/plain"
        resp.enable_compression()
        await resp.prepare(request)
        for i in range(50):
            await resp.write(f"line {i}\n".encode())
        await resp.write_eof()
        return resp

    @routes.get("/empty/{status}")
    async def empty(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["status"]), text="should not appear")

    @routes.get("/meta")
    async def meta(request: web.Request) -> web.Response:
        resp = web.Response(text="meta", reason="Fine Thanks")
        resp.last_modified = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
        resp.etag = web.ETag(value="v1", is_weak=True)
        resp["stored"] = 1
        return resp

    @routes.get("/json")
    async def json_handler(request: web.Request) -> web.Response:
        return web.json_response(
            {"a": [1, 2]}, status=201, headers={"X-J": "1"}, dumps=lambda d: json.dumps(d) + " "
        )

    @routes.get("/inject/{where}")
    async def inject(request: web.Request) -> web.Response:
        where = request.match_info["where"]
        resp = web.Response(text="bad")
        try:
            if where == "value":
                resp.headers["X-Evil"] = "a\r\nSet-Cookie: pwned=1"
            elif where == "name":
                resp.headers["X-Evil\r\nX"] = "a"
            elif where == "reason":
                resp.set_status(200, "OK\r\nX-Evil: 1")
            await resp.prepare(request)
        except ValueError as exc:
            return web.Response(status=400, text=f"refused: {exc}")
        return resp

    @routes.get("/late-headers")
    async def late(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        errors = []

        def set_header() -> None:
            resp.headers["X"] = "1"  # type: ignore[index]

        for change in (
            lambda: setattr(resp, "content_type", "text/html"),
            lambda: resp.set_cookie("a", "b"),
            lambda: resp.set_status(201),
            set_header,
        ):
            try:
                change()
            except (RuntimeError, TypeError) as exc:
                errors.append(type(exc).__name__)
        await resp.write(json.dumps(errors).encode())
        await resp.write_eof()
        return resp

    @routes.get("/write-errors")
    async def write_errors(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        errors = []
        try:
            await resp.write(b"early")
        except RuntimeError:
            errors.append("before-prepare")
        await resp.prepare(request)
        try:
            await resp.write("text")  # type: ignore[arg-type]
        except TypeError:
            errors.append("not-bytes")
        await resp.write_eof(json.dumps(errors).encode())
        try:
            await resp.write(b"late")
        except Exception as exc:
            request.app[AFTER_EOF].append(f"{type(exc).__name__}: {exc}")
        else:
            request.app[AFTER_EOF].append("written")
        return resp

    @routes.get("/prepare-signal")
    async def prepared(request: web.Request) -> web.Response:
        return web.Response(text="signalled")

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Prepared"] = "yes"

    app.on_response_prepare.append(on_prepare)
    app.add_routes(routes)
    return app


def test_cookies_round_trip(serve_app) -> None:
    with serve_app(responses_app()) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/cookies/set")
        set_cookies = r.headers.get_list("set-cookie")
        assert 'sid="abc 123"; HttpOnly; Max-Age=60; Path=/; SameSite=Lax' in set_cookies
        assert "chip=x; Partitioned; Path=/; SameSite=None; Secure" in set_cookies
        assert any(c.startswith('old=""; expires=Thu, 01 Jan 1970') for c in set_cookies)
        assert client.get("/cookies/echo").json() == {"sid": "abc 123"}


def test_compression_is_chosen_from_accept_encoding(serve_app) -> None:
    with serve_app(responses_app()) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/compressed", headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        assert "accept-encoding" in r.headers["vary"].lower()
        assert r.text == "squeeze me " * 1000  # httpx decoded it
        assert int(r.headers["content-length"]) < 200
        raw = client.get("/compressed", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in raw.headers and raw.text == "squeeze me " * 1000
        forced = client.get("/compressed/forced", headers={"Accept-Encoding": "identity"})
        assert forced.headers["content-encoding"] == "deflate"
        with client.stream("GET", "/compressed/forced") as r:
            body = b"".join(r.iter_raw())
        assert zlib.decompress(body) == b"deflated " * 600


def test_streaming_response_with_compression(serve_app) -> None:
    with serve_app(responses_app()) as server, httpx.Client(base_url=server.url) as client:
        with client.stream("GET", "/stream", headers={"Accept-Encoding": "gzip"}) as r:
            assert r.headers["x-stream"] == "1"
            raw = b"".join(r.iter_raw())
        assert gzip.decompress(raw).decode() == "".join(f"line {i}\n" for i in range(50))


def test_response_lets_go_of_its_request_once_finished(serve_app) -> None:
    """As aiohttp: ``response.task`` is the request's task until write_eof(), then None."""
    seen: list[object] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        seen.append(response.task is asyncio.current_task())
        await response.write_eof(b"done")
        seen.append(response.task)
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/").text == "done"
    assert seen == [True, None]


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(serve_app, status: int) -> None:
    with serve_app(responses_app()) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(f"GET /empty/{status} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            sock.sendall(b"GET /meta HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"meta" not in data:
                chunk = sock.recv(65536)
                assert chunk
                data += chunk
        first, _, rest = data.partition(b"\r\n\r\n")
        assert first.startswith(f"HTTP/1.1 {status}".encode())
        assert b"should not appear" not in data
        assert rest.startswith(b"HTTP/1.1 200")  # the next response follows at once


def test_head_sends_headers_only(serve_app) -> None:
    with serve_app(responses_app()) as server:
        r = httpx.head(server.url + "/meta")
        assert r.status_code == 200 and r.content == b""
        assert r.headers["content-length"] == "4"


def test_metadata_headers(serve_app, path_kind: str) -> None:
    with serve_app(responses_app()) as server:
        r = httpx.get(server.url + "/meta")
    assert r.headers["last-modified"] == "Thu, 02 Jan 2020 03:04:05 GMT"
    assert r.headers["etag"] == 'W/"v1"'
    assert "date" in r.headers and "server" in r.headers
    if path_kind == "native":
        assert r.reason_phrase == "Fine Thanks"
        assert r.headers["server"].startswith("Python/3")


def test_json_response_arguments(serve_app) -> None:
    with serve_app(responses_app()) as server:
        r = httpx.get(server.url + "/json")
    assert r.status_code == 201 and r.headers["x-j"] == "1"
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.text == '{"a": [1, 2]} '


@pytest.mark.parametrize("where", ["value", "name", "reason"])
def test_header_injection_is_refused(serve_app, where: str) -> None:
    with serve_app(responses_app()) as server:
        r = httpx.get(server.url + f"/inject/{where}")
    assert r.status_code == 400 and r.text.startswith("refused")
    assert "pwned" not in r.headers.get("set-cookie", "") and "x-evil" not in r.headers


def test_headers_are_frozen_after_prepare(serve_app) -> None:
    with serve_app(responses_app()) as server:
        r = httpx.get(server.url + "/late-headers")
    assert r.json() == ["RuntimeError"] * 4


def test_write_state_machine(serve_app) -> None:
    app = responses_app()
    with serve_app(app) as server:
        r = httpx.get(server.url + "/write-errors")
    assert r.json() == ["before-prepare", "not-bytes"]
    # The server has stopped, so the handler has finished.
    assert app[AFTER_EOF] == ["RuntimeError: Cannot call write() after write_eof()"]


def test_on_response_prepare_runs_before_the_head(serve_app) -> None:
    with serve_app(responses_app()) as server:
        assert httpx.get(server.url + "/prepare-signal").headers["x-prepared"] == "yes"


def test_body_types(serve_app) -> None:
    import io

    app = web.Application()

    async def agen():
        for i in range(3):
            yield f"part{i};".encode()

    async def file_body(request: web.Request) -> web.Response:
        return web.Response(body=io.BytesIO(b"from a file"), content_type="text/plain")

    async def iter_body(request: web.Request) -> web.Response:
        return web.Response(body=agen())

    app.router.add_get("/file", file_body)
    app.router.add_get("/iter", iter_body)
    with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/file")
        assert (r.text, r.headers["content-length"]) == ("from a file", "11")
        assert client.get("/iter").text == "part0;part1;part2;"


def test_exceptions_raised(serve_app) -> None:
    app = web.Application()

    async def raise_it(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind == "405":
            raise web.HTTPMethodNotAllowed("PUT", ["GET", "POST"])
        if kind == "451":
            raise web.HTTPUnavailableForLegalReasons("https://example.org/why", text="blocked")
        if kind == "308":
            raise web.HTTPPermanentRedirect("/elsewhere")
        if kind == "413":
            raise web.HTTPRequestEntityTooLarge(max_size=10, actual_size=20)
        raise web.HTTPTooManyRequests(headers={"Retry-After": "3"})

    app.router.add_get("/raise/{kind}", raise_it)
    with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/raise/405")
        assert (r.status_code, r.headers["allow"], r.text) == (
            405,
            "GET,POST",
            "405: Method Not Allowed",
        )
        r = client.get("/raise/451")
        assert r.status_code == 451 and r.text == "blocked"
        assert r.headers["link"] == '<https://example.org/why>; rel="blocked-by"'
        r = client.get("/raise/308")
        assert (r.status_code, r.headers["location"]) == (308, "/elsewhere")
        r = client.get("/raise/413")
        assert r.status_code == 413 and "10" in r.text
        r = client.get("/raise/429")
        assert (r.status_code, r.headers["retry-after"], r.text) == (
            429,
            "3",
            "429: Too Many Requests",
        )


def test_slow_reader_applies_back_pressure(serve_app, path_kind: str) -> None:
    """A client that does not read makes write() wait instead of buffering the body."""
    progress: list[int] = []
    app = web.Application()

    async def firehose(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        chunk = b"z" * 65536
        for i in range(1600):  # 100 MiB if nothing pushed back
            await resp.write(chunk)
            progress.append(i)
        await resp.write_eof()
        return resp

    app.router.add_get("/firehose", firehose)
    # The client hangs up mid-body: write() raises ConnectionResetError out of the handler
    # on every path, which is logged at DEBUG only (a client that left is no server error).
    with serve_app(app) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /firehose HTTP/1.1\r\nHost: x\r\n\r\n")
        asyncio.run(asyncio.sleep(1.0))
        written = len(progress)
        sock.close()
    mib = written * 64 / 1024
    print(f"\n{path_kind}: {mib:.1f} MiB left the handler for a client reading nothing")
    # Socket buffers and the server's write buffer hold a few MiB at most, not 100.
    assert written < 200, f"{path_kind} wrote {written} chunks to a client that read nothing"


def test_body_is_held_to_its_content_length(serve_app, path_kind: str) -> None:
    app = web.Application()

    async def too_long(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 5
        await resp.prepare(request)
        await resp.write(b"12345EXTRA")
        await resp.write_eof()
        return resp

    async def too_short(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 50
        await resp.prepare(request)
        await resp.write_eof(b"short")
        return resp

    async def after(request: web.Request) -> web.Response:
        return web.Response(text="next")

    app.router.add_get("/long", too_long)
    app.router.add_get("/short", too_short)
    app.router.add_get("/next", after)
    # The native server cuts the short body's connection quietly; the ASGI servers make
    # the handler's write_eof() raise, an error logged (then once more by the server).
    with serve_app(app, expect_errors=path_kind != "native") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(
                b"GET /long HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            data = b""
            while not data.endswith(b"next"):
                chunk = sock.recv(65536)
                assert chunk, data
                data += chunk
        assert b"EXTRA" not in data and data.count(b"HTTP/1.1 200") == 2
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):  # the server closes: the body cannot complete
                data += chunk
        assert data.endswith(b"short")
        assert httpx.get(server.url + "/next").text == "next"
    assert path_kind == "native" or server.logged("Content-Length")


def test_aiohttp_parity_details(serve_app, tmp_path) -> None:
    """Details found by running the same app on aiohttp and comparing answers."""
    import io

    named = tmp_path / "report.txt"
    named.write_bytes(b"abc")
    app = web.Application()

    async def empty(request: web.Request) -> web.Response:
        return web.Response(status=201)

    async def delete(request: web.Request) -> web.Response:
        resp = web.Response(text="bye")
        resp.del_cookie("sid", secure=True, httponly=True, samesite="None")
        return resp

    async def squeeze(request: web.Request) -> web.Response:
        resp = web.Response(text="z" * 2000)
        resp.enable_compression()
        return resp

    async def typed(request: web.Request) -> web.Response:
        return web.Response(text="t", headers={"Content-Type": "application/x-foo"})

    async def text_file(request: web.Request) -> web.Response:
        return web.Response(body=io.StringIO("héllo"))

    async def named_file(request: web.Request) -> web.Response:
        return web.Response(body=open(named, "rb"))  # noqa: SIM115 - the response closes it

    for path, handler in (("/empty", empty), ("/delete", delete), ("/squeeze", squeeze),
                          ("/typed", typed), ("/text-file", text_file),
                          ("/named-file", named_file)):  # fmt: skip
        app.router.add_get(path, handler)
    app.router.add_static("/static", tmp_path)
    with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/empty")
        assert r.status_code == 201 and "content-type" not in r.headers
        assert client.get("/delete").headers["set-cookie"] == (
            'sid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/; '
            "SameSite=None; Secure"
        )
        r = client.get("/squeeze", headers={"Accept-Encoding": "gzip;q=0, deflate"})
        assert r.headers["content-encoding"] == "deflate" and r.text == "z" * 2000
        assert client.get("/typed").headers["content-type"] == "application/x-foo; charset=utf-8"
        assert client.get("/text-file").content == "héllo".encode()
        r = client.get("/named-file")
        assert r.content == b"abc" and r.headers["content-type"].startswith("text/plain")
        assert r.headers["content-disposition"] == 'attachment; filename="report.txt"'
        first = client.get("/static/report.txt")
        r = client.get("/static/report.txt", headers={"If-None-Match": first.headers["etag"]})
        assert r.status_code == 304 and "content-type" not in r.headers
        r = client.get("/static/report.txt", headers={"Range": "Bytes=0-1"})
        assert (r.status_code, r.content) == (206, b"ab")


def test_lenient_cookies_and_decoded_query_string(serve_app) -> None:
    app = web.Application()

    async def show(request: web.Request) -> web.Response:
        return web.json_response({"cookies": dict(request.cookies), "qs": request.query_string})

    app.router.add_get("/", show)
    with serve_app(app) as server:
        r = httpx.get(
            server.url + "/?q=a%2Fb&t=%25",
            headers={"Cookie": 'a=1; e; b="x y"; path=/p;;d=2'},
        )
    assert r.json() == {
        "cookies": {"a": "1", "e": "", "b": "x y", "path": "/p", "d": "2"},
        "qs": "q=a/b&t=%",
    }
