"""The quickstart's first sections, served identically by every path."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest

from asgiweb import web


def quickstart_app() -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/")
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="Hello, world")

    @routes.get("/{name}")
    async def variable_handler(request: web.Request) -> web.Response:
        return web.Response(text="Hello, {}".format(request.match_info["name"]))

    @routes.get(r"/num/{n:\d+}")
    async def number(request: web.Request) -> web.Response:
        return web.json_response({"n": int(request.match_info["n"])})

    @routes.post("/echo")
    async def echo(request: web.Request) -> web.Response:
        data = await request.json()
        return web.json_response({"got": data, "method": request.method})

    @routes.get("/query")
    async def query(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "a": request.query.getall("a", []),
                "path": request.path,
                "ua": request.headers["X-Test"],
            }
        )

    @routes.get("/boom")
    async def boom(request: web.Request) -> web.Response:
        raise ZeroDivisionError("handler exploded")

    @routes.get("/redirect")
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/")

    @routes.get("/forbidden")
    async def forbidden(request: web.Request) -> web.Response:
        raise web.HTTPForbidden(text="nope")

    async def all_methods(request: web.Request) -> web.Response:
        return web.Response(text=request.method)

    async def put_handler(request: web.Request) -> web.Response:
        return web.Response(text="put " + await request.text())

    app = web.Application()
    app.add_routes(routes)
    app.add_routes([web.route("*", "/any", all_methods), web.put("/put", put_handler)])
    app.router.add_get("/deny/head", hello, allow_head=False)

    class MyView(web.View):
        async def get(self) -> web.Response:
            return web.Response(text="view get")

        async def post(self) -> web.Response:
            return web.Response(text="view post")

    app.router.add_view("/view", MyView)
    return app


def test_plain_and_variable_routes(serve_app) -> None:
    with serve_app(quickstart_app()) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/")
        assert (r.status_code, r.text) == (200, "Hello, world")
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert r.headers["content-length"] == "12"
        r = client.get("/john")
        assert (r.status_code, r.text) == (200, "Hello, john")
        r = client.get("/caf%C3%A9")
        assert r.text == "Hello, café"
        r = client.get("/num/42")
        assert r.json() == {"n": 42}
        assert r.headers["content-type"] == "application/json; charset=utf-8"


def test_404_for_unknown_path(serve_app) -> None:
    with serve_app(quickstart_app()) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/num/abc/def")
        assert r.status_code == 404
        assert r.text == "404: Not Found"


def test_405_carries_allow(serve_app) -> None:
    with serve_app(quickstart_app()) as server, httpx.Client(base_url=server.url) as client:
        r = client.delete("/")
        assert r.status_code == 405
        assert r.headers["allow"] == "GET,HEAD"
        assert r.text == "405: Method Not Allowed"
        r = client.post("/put")
        assert r.status_code == 405
        assert r.headers["allow"] == "GET,HEAD,PUT"  # /{name} matches too, as in aiohttp


def test_head_is_allowed_on_get_unless_denied(serve_app) -> None:
    with serve_app(quickstart_app()) as server, httpx.Client(base_url=server.url) as client:
        r = client.head("/")
        assert r.status_code == 200
        assert r.headers["content-length"] == "12"
        assert r.content == b""
        r = client.head("/deny/head")
        assert r.status_code == 405
        assert r.headers["allow"] == "GET"


def test_bodies_query_and_headers(serve_app) -> None:
    with serve_app(quickstart_app()) as server, httpx.Client(base_url=server.url) as client:
        r = client.post("/echo", json={"x": [1, 2]})
        assert r.json() == {"got": {"x": [1, 2]}, "method": "POST"}
        r = client.put("/put", content=b"payload")
        assert r.text == "put payload"
        r = client.get("/query?a=1&a=two%20words", headers={"X-Test": "yes"})
        assert r.json() == {"a": ["1", "two words"], "path": "/query", "ua": "yes"}


def test_chunked_request_body(serve_app) -> None:
    def gen():
        yield b'{"chunk'
        yield b'ed": true}'

    with serve_app(quickstart_app()) as server, httpx.Client(base_url=server.url) as client:
        r = client.post("/echo", content=gen())
        assert r.json() == {"got": {"chunked": True}, "method": "POST"}


def test_wildcard_method_and_views(serve_app) -> None:
    with serve_app(quickstart_app()) as server, httpx.Client(base_url=server.url) as client:
        assert client.request("PATCH", "/any").text == "PATCH"
        assert client.get("/any").text == "GET"
        assert client.get("/view").text == "view get"
        assert client.post("/view").text == "view post"
        r = client.delete("/view")
        assert r.status_code == 405
        assert r.headers["allow"] == "GET,POST"


def test_raised_http_exceptions(serve_app) -> None:
    with serve_app(quickstart_app()) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/redirect")
        assert r.status_code == 302
        assert r.headers["location"] == "/"
        r = client.get("/forbidden")
        assert (r.status_code, r.text) == (403, "nope")


def test_handler_error_gives_500_and_a_log_then_keeps_serving(serve_app, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="asgiweb.server")
    with (
        serve_app(quickstart_app(), expect_errors=True) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        r = client.get("/boom")
        assert r.status_code == 500
        assert "500 Internal Server Error" in r.text
        assert "handler exploded" not in r.text  # no traceback leaks without debug
        assert client.get("/").text == "Hello, world"
    records = [rec for rec in caplog.records if rec.name == "asgiweb.server"]
    assert records, "the failure must be logged"
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], ZeroDivisionError)


def test_keep_alive_serves_many_requests_on_one_connection(serve_app) -> None:
    with serve_app(quickstart_app()) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            for i in range(3):
                sock.sendall(f"GET /n{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                data = b""
                while not data.endswith(f"Hello, n{i}".encode()):
                    chunk = sock.recv(4096)
                    assert chunk, "connection closed early"
                    data += chunk
                assert data.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_same_answers_on_every_path(serve_app, method: str) -> None:
    """The status, body and content headers do not depend on the serving path."""
    with serve_app(quickstart_app()) as server, httpx.Client(base_url=server.url) as client:
        r = client.request(method, "/")
        expected = (200, "Hello, world") if method == "GET" else (405, "405: Method Not Allowed")
        assert (r.status_code, r.text) == expected
