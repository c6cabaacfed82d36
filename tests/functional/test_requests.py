"""Request attributes, bodies, forms and uploads, identical on every path."""

from __future__ import annotations

import hashlib
import io
import json

import httpx

from asgiweb import web


def attrs_app() -> web.Application:
    app = web.Application(client_max_size=1024)

    async def attrs(request: web.Request) -> web.Response:
        rng = request.http_range
        data = {
            "version": list(request.version),
            "method": request.method,
            "url": str(request.url),
            "rel_url": str(request.rel_url),
            "scheme": request.scheme,
            "secure": request.secure,
            "host": request.host,
            "remote": request.remote,
            "path": request.path,
            "raw_path": request.raw_path,
            "path_qs": request.path_qs,
            "query": list(request.query.items()),
            "query_string": request.query_string,
            "header": request.headers.getall("X-Multi", []),
            "raw_has_header": any(k.lower() == b"x-multi" for k, _ in request.raw_headers),
            "keep_alive": request.keep_alive,
            "cookies": dict(request.cookies),
            "body_exists": request.body_exists,
            "can_read_body": request.can_read_body,
            "content_type": request.content_type,
            "charset": request.charset,
            "content_length": request.content_length,
            "range": [rng.start, rng.stop],
            "ims": request.if_modified_since.isoformat() if request.if_modified_since else None,
            "ius": str(request.if_unmodified_since) if request.if_unmodified_since else None,
            "if_range": str(request.if_range) if request.if_range else None,
            "if_match": [list(e) for e in request.if_match or ()],
            "if_none_match": [list(e) for e in request.if_none_match or ()],
            "forwarded": [dict(f) for f in request.forwarded],
            "match_info": dict(request.match_info),
            "client_max_size": request.client_max_size,
            "peername_is_tuple": isinstance(request.get_extra_info("peername"), tuple),
            "extra_default": request.get_extra_info("no-such-thing", "dflt"),
            "body": await request.text(),
        }
        return web.json_response(data)

    async def clone(request: web.Request) -> web.Response:
        new = request.clone(
            method="PUT", rel_url="/other?z=9", headers={"X-New": "1"}, scheme="https",
            host="example.org", remote="10.0.0.1", client_max_size=7,
        )  # fmt: skip
        return web.json_response(
            [
                new.method,
                str(new.url),
                new.headers.get("X-New"),
                new.remote,
                new.client_max_size,
                new.secure,
            ]  # fmt: skip
        )

    async def form(request: web.Request) -> web.Response:
        data = await request.post()
        return web.json_response({k: str(v) for k, v in data.items()})

    async def mutable(request: web.Request) -> web.Response:
        request["seen"] = 1
        return web.json_response({"len": len(request), "seen": request["seen"]})

    app.router.add_route("*", "/attrs/{part}", attrs)
    app.router.add_get("/clone", clone)
    app.router.add_route("*", "/form", form)
    app.router.add_get("/mutable", mutable)
    return app


def test_documented_attributes(serve_app) -> None:
    headers = [
        ("X-Multi", "a"),
        ("X-Multi", "b"),
        ("Cookie", "sid=abc; theme=dark"),
        ("Content-Type", "text/plain; charset=latin-1"),
        ("Range", "bytes=5-9"),
        ("If-Modified-Since", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ("If-Unmodified-Since", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ("If-Range", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ("If-Match", '"x", W/"y"'),
        ("If-None-Match", "*"),
        ("Forwarded", 'for=192.0.2.60;proto=https, for="[2001:db8::1]"'),
    ]
    with serve_app(attrs_app()) as server, httpx.Client(base_url=server.url) as client:
        r = client.post(
            "/attrs/caf%C3%A9?a=1&a=2&b=%20x", headers=headers, content="é".encode("latin-1")
        )
        data = r.json()
    port = server.port
    assert data["version"] == [1, 1]
    assert data["method"] == "POST"
    assert data["url"] == f"http://127.0.0.1:{port}/attrs/caf%C3%A9?a=1&a=2&b=%20x"
    assert data["rel_url"] == "/attrs/caf%C3%A9?a=1&a=2&b=%20x"
    assert (data["scheme"], data["secure"]) == ("http", False)
    assert data["host"] == f"127.0.0.1:{port}"
    assert data["remote"] == "127.0.0.1"
    assert data["path"] == "/attrs/café"
    assert data["raw_path"] == "/attrs/caf%C3%A9?a=1&a=2&b=%20x"
    assert data["path_qs"] == "/attrs/caf%C3%A9?a=1&a=2&b=%20x"  # str(rel_url), as aiohttp
    assert data["query"] == [["a", "1"], ["a", "2"], ["b", " x"]]
    assert data["query_string"] == "a=1&a=2&b= x"  # decoded, as aiohttp
    assert data["header"] == ["a", "b"] and data["raw_has_header"]
    assert data["keep_alive"] is True
    assert data["cookies"] == {"sid": "abc", "theme": "dark"}
    assert (data["body_exists"], data["can_read_body"]) == (True, True)
    assert (data["content_type"], data["charset"]) == ("text/plain", "latin-1")
    assert data["content_length"] == 1
    assert data["range"] == [5, 10]
    assert data["ims"] == "2015-10-21T07:28:00+00:00"
    assert data["ius"] and data["if_range"]
    assert data["if_match"] == [["x", False], ["y", True]]
    assert data["if_none_match"] == [["*", False]]
    assert data["forwarded"] == [{"for": "192.0.2.60", "proto": "https"}, {"for": "[2001:db8::1]"}]
    assert data["match_info"] == {"part": "café"}
    assert data["client_max_size"] == 1024
    assert data["peername_is_tuple"] is True
    assert data["extra_default"] == "dflt"
    assert data["body"] == "é"


def test_request_without_body(serve_app) -> None:
    with serve_app(attrs_app()) as server:
        data = httpx.get(server.url + "/attrs/x").json()
    assert (data["body_exists"], data["can_read_body"]) == (False, False)
    assert data["content_type"] == "application/octet-stream"
    assert data["content_length"] is None and data["body"] == ""
    assert data["range"] == [None, None] and data["if_match"] == []


def test_clone_and_mapping(serve_app) -> None:
    with serve_app(attrs_app()) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/clone").json() == [
            "PUT", "https://example.org/other?z=9", "1", "10.0.0.1", 7, True
        ]  # fmt: skip
        assert client.get("/mutable").json() == {"len": 1, "seen": 1}


def test_urlencoded_form(serve_app) -> None:
    with serve_app(attrs_app()) as server:
        r = httpx.post(server.url + "/form", data={"name": "Ann é", "x": ""})
        assert r.json() == {"name": "Ann é", "x": ""}
        # No form for GET, or for a body that is not a form.
        assert httpx.get(server.url + "/form").json() == {}
        assert httpx.post(server.url + "/form", json={"a": 1}).json() == {}


def test_oversized_bodies_get_413_and_the_server_keeps_serving(serve_app) -> None:
    with serve_app(attrs_app()) as server, httpx.Client(base_url=server.url) as client:
        r = client.post("/attrs/x", content=b"x" * 2000)
        assert r.status_code == 413
        assert "1024" in r.text
        r = client.post("/attrs/x", content=iter([b"y" * 600, b"y" * 600]))  # chunked
        assert r.status_code == 413
        r = client.post("/form", data={"a": "b" * 3000})
        assert r.status_code == 413
        r = client.post("/form", files={"f": ("f.bin", b"z" * 700)}, data={"g": "h" * 700})
        assert r.status_code == 413
        assert client.get("/attrs/ok").status_code == 200


def test_a_413_answered_before_the_body_keeps_the_connection_usable(serve_app) -> None:
    # The handler refuses the body by its Content-Length without reading it. A server that
    # closed the connection on the unread body would make the client's next request on it
    # fail now and then (hypercorn did, about one pair in ten), so repeat the pair.
    with serve_app(attrs_app()) as server, httpx.Client(base_url=server.url) as client:
        for _ in range(40):
            assert client.post("/attrs/x", content=b"x" * 2000).status_code == 413
            assert client.post("/form", data={"a": "b" * 3000}).status_code == 413
        assert client.get("/attrs/ok").status_code == 200


def upload_app() -> web.Application:
    """The quickstart's upload examples: post() with FileField, and multipart() streaming."""
    app = web.Application(client_max_size=64 * 1024**2)

    async def store_mp3_handler(request: web.Request) -> web.Response:
        data = await request.post()
        mp3 = data["mp3"]
        assert isinstance(mp3, web.FileField)
        content = mp3.file.read()
        return web.json_response(
            {
                "filename": mp3.filename,
                "size": len(content),
                "ctype": mp3.content_type,
                "name": mp3.name,
                "sha": hashlib.sha256(content).hexdigest(),
                "note": data["note"],
            }  # fmt: skip
        )

    async def stream_handler(request: web.Request) -> web.Response:
        reader = await request.multipart()
        parts = []
        while (part := await reader.next()) is not None:
            if part.filename:
                size = 0
                digest = hashlib.sha256()
                while chunk := await part.read_chunk():
                    size += len(chunk)
                    digest.update(chunk)
                parts.append([part.name, part.filename, size, digest.hexdigest()])
            else:
                parts.append([part.name, await part.text()])
        return web.json_response(parts)

    app.router.add_post("/store/mp3", store_mp3_handler)
    app.router.add_post("/stream", stream_handler)
    return app


def test_file_upload_with_post(serve_app) -> None:
    blob = bytes(range(256)) * 4000
    with serve_app(upload_app()) as server:
        r = httpx.post(
            server.url + "/store/mp3",
            files={"mp3": ("song.mp3", io.BytesIO(blob), "audio/mpeg")},
            data={"note": "hi"},
        )
    assert r.json() == {
        "filename": "song.mp3", "size": len(blob), "ctype": "audio/mpeg", "name": "mp3",
        "sha": hashlib.sha256(blob).hexdigest(), "note": "hi",
    }  # fmt: skip


def test_streamed_multipart(serve_app) -> None:
    blob = b"\r\n--not-a-boundary\r\n" * 5000
    with serve_app(upload_app()) as server:
        r = httpx.post(
            server.url + "/stream",
            files={"file": ("a.bin", blob, "application/octet-stream")},
            data={"title": "Ünïcode"},
        )
    assert r.json() == [
        ["title", "Ünïcode"],
        ["file", "a.bin", len(blob), hashlib.sha256(blob).hexdigest()],
    ]


def test_json_body(serve_app) -> None:
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(await request.json())

    app.router.add_post("/", handler)
    with serve_app(app) as server:
        assert httpx.post(server.url, json={"k": [1, "é"]}).json() == {"k": [1, "é"]}


def test_streamed_reading_api(serve_app) -> None:
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        content = request.content
        first = await content.readline()
        exact = await content.readexactly(3)
        until = await content.readuntil(b"|")
        chunked = [c async for c in content.iter_chunked(4)]
        return web.json_response(
            [
                first.decode(),
                exact.decode(),
                until.decode(),
                b"".join(chunked).decode(),
                content.at_eof(),
                content.total_bytes,
            ]  # fmt: skip
        )

    app.router.add_post("/", handler)
    body = b"line one\nabcdef|0123456789"
    with serve_app(app) as server:
        r = httpx.post(server.url, content=iter([body[:5], body[5:12], body[12:]]))
    assert r.json() == ["line one\n", "abc", "def|", "0123456789", True, len(body)]


def test_release_and_read_twice(serve_app) -> None:
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        first = await request.read()
        second = await request.read()
        await request.release()
        return web.Response(text=json.dumps([len(first), first == second]))

    app.router.add_post("/", handler)
    with serve_app(app) as server:
        assert httpx.post(server.url, content=b"q" * 5000).json() == [5000, True]


def test_context_variables_do_not_leak_between_requests(serve_app) -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        before = var.get()
        var.set(request.query["v"])
        return web.Response(text=before)

    app.router.add_get("/", handler)
    with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
        # One keep-alive connection: each request still starts from a fresh context.
        assert [client.get("/", params={"v": str(i)}).text for i in range(3)] == ["unset"] * 3


def test_compressed_request_bodies_are_inflated(serve_app) -> None:
    import gzip
    import zlib

    app = web.Application(client_max_size=1024 * 1024)

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app.router.add_post("/", echo)
    raw_deflate = zlib.compressobj(wbits=-15)
    raw_deflated = raw_deflate.compress(b"raw " * 100) + raw_deflate.flush()
    with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
        r = client.post("/", content=gzip.compress(b"hello " * 1000),
                        headers={"Content-Encoding": "gzip"})  # fmt: skip
        assert r.content == b"hello " * 1000
        r = client.post("/", content=zlib.compress(b"zlib " * 100),
                        headers={"Content-Encoding": "deflate"})  # fmt: skip
        assert r.content == b"zlib " * 100
        r = client.post("/", content=raw_deflated, headers={"Content-Encoding": "deflate"})
        assert r.content == b"raw " * 100
        # 64 MiB of zeros in a few KiB: stopped by client_max_size, not by running out of memory
        bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
        r = client.post("/", content=bomb, headers={"Content-Encoding": "gzip"})
        assert r.status_code == 413
        r = client.post("/", content=b"not gzip at all", headers={"Content-Encoding": "gzip"})
        assert r.status_code == 400
        assert client.post("/", content=b"plain").content == b"plain"


def test_auto_decompress_off_hands_over_the_raw_body() -> None:
    import gzip

    from servers import serve

    app = web.Application()

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app.router.add_post("/", echo)
    body = gzip.compress(b"as sent")
    with serve(app, "native", auto_decompress=False) as server:
        r = httpx.post(server.url, content=body, headers={"Content-Encoding": "gzip"})
    assert r.content == body
