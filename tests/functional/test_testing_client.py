"""TestClient against each test server (native, uvicorn, hypercorn) over loopback."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from asgiweb import web
from asgiweb.test_utils import (
    ASGITestServer,
    BaseTestServer,
    RawTestServer,
    TestClient,
    TestServer,
    make_test_server,
    unused_port,
)

pytestmark = pytest.mark.asyncio

SHUTDOWN = web.AppKey("shutdown", list[str])


@pytest.fixture(params=["native", "uvicorn", "hypercorn"])
def server_path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def echo_ws(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is web.WSMsgType.TEXT:
            await ws.send_str("echo:" + msg.data)
        elif msg.type is web.WSMsgType.BINARY:
            await ws.send_bytes(msg.data[::-1])
    return ws


async def index(request: web.Request) -> web.Response:
    return web.Response(text=f"{request.method} {request.path_qs}")


async def set_cookie(request: web.Request) -> web.Response:
    resp = web.Response(text="set")
    resp.set_cookie("session", request.match_info["value"])
    return resp


async def show_cookie(request: web.Request) -> web.Response:
    return web.Response(text=request.cookies.get("session", "<none>"))


async def post_echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(body=body[::-1], headers={"X-Length": str(len(body))})


async def post_json(request: web.Request) -> web.Response:
    data = await request.json()
    return web.json_response({"got": data, "method": request.method})


async def fail(request: web.Request) -> web.Response:
    raise ValueError("handler failed on purpose")


async def fail_after_head(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    await resp.prepare(request)
    await resp.write(b"partial")
    raise KeyError("failed after the head was sent")


def make_app() -> web.Application:
    app = web.Application()
    app[SHUTDOWN] = []

    async def on_shutdown(app: web.Application) -> None:
        app[SHUTDOWN].append("on_shutdown")

    async def context(app: web.Application) -> AsyncIterator[None]:
        app[SHUTDOWN].append("ctx enter")
        yield
        app[SHUTDOWN].append("ctx exit")

    app.on_shutdown.append(on_shutdown)
    app.cleanup_ctx.append(context)
    app.add_routes(
        [
            web.get("/", index),
            web.post("/echo", post_echo),
            web.put("/json", post_json),
            web.patch("/json", post_json),
            web.delete("/json", post_json),
            web.get("/cookie/{value}", set_cookie),
            web.get("/cookie", show_cookie),
            web.get("/ws", echo_ws),
            web.get("/fail", fail),
            web.get("/fail-after-head", fail_after_head),
        ]
    )
    return app


async def test_requests_and_responses(server_path: str) -> None:
    app = make_app()
    async with TestClient(make_test_server(app, server_path)) as client:
        assert client.app is app
        resp = await client.get("/", params={"q": "1"})
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert await resp.text() == "GET /?q=1"

        async with client.post("/echo", data=b"abcdef") as resp:
            assert resp.headers["X-Length"] == "6"
            assert await resp.content.read(3) == b"fed"
            assert await resp.content.read() == b"cba"

        for method in ("put", "patch", "delete"):
            resp = await getattr(client, method)("/json", json={"a": [1, 2]})
            assert await resp.json() == {"got": {"a": [1, 2]}, "method": method.upper()}

        resp = await client.head("/")
        assert resp.status == 200 and await resp.read() == b""
        resp = await client.options("/")
        assert resp.status == 405
        resp = await client.request("GET", "/nowhere")
        assert resp.status == 404


async def test_cookies_persist_across_requests(server_path: str) -> None:
    async with TestClient(make_test_server(make_app(), server_path)) as client:
        assert await (await client.get("/cookie")).text() == "<none>"
        resp = await client.get("/cookie/abc")
        assert resp.cookies["session"].value == "abc"
        assert await (await client.get("/cookie")).text() == "abc"


async def test_websocket_echo(server_path: str) -> None:
    async with TestClient(make_test_server(make_app(), server_path)) as client:
        async with client.ws_connect("/ws") as ws:
            await ws.send_str("hello")
            assert await ws.receive_str() == "echo:hello"
            await ws.send_json({"k": 1})
            assert await ws.receive_str() == 'echo:{"k": 1}'
            await ws.send_bytes(b"\x01\x02")
            assert await ws.receive_bytes() == b"\x02\x01"
        assert ws.closed
        ws = await client.ws_connect("/ws")
        await ws.send_str("left open")
        assert (await ws.receive()).data == "echo:left open"
    assert ws.closed  # closing the client closed the WebSocket it handed out


async def test_close_runs_shutdown_and_cleanup(server_path: str) -> None:
    app = make_app()
    server = make_test_server(app, server_path)
    client = TestClient(server)
    await client.start_server()
    assert app[SHUTDOWN] == ["ctx enter"]
    resp = await client.get("/")
    await client.close()
    assert app[SHUTDOWN] == ["ctx enter", "on_shutdown", "ctx exit"]
    assert resp.closed  # responses handed out are released
    assert server.closed and client.session.closed
    await client.close()  # idempotent
    assert app[SHUTDOWN] == ["ctx enter", "on_shutdown", "ctx exit"]


async def test_server_errors_are_recorded(server_path: str) -> None:
    server = make_test_server(make_app(), server_path)
    async with TestClient(server) as client:
        resp = await client.get("/fail")
        assert resp.status == 500
        assert [type(e) for e in server.errors] == [ValueError]
        assert str(server.errors[0]) == "handler failed on purpose"
        with pytest.raises(aiohttp.ClientPayloadError):
            await (await client.get("/fail-after-head")).read()
        # Once: the ASGI server's own report of the aborted response is not counted again.
        assert [type(e) for e in server.errors] == [ValueError, KeyError]
    assert [type(e) for e in server.errors] == [ValueError, KeyError]


async def test_no_errors_recorded_for_a_clean_run(server_path: str) -> None:
    server = make_test_server(make_app(), server_path)
    async with TestClient(server) as client:
        assert (await client.get("/nowhere")).status == 404
        async with client.ws_connect("/ws") as ws:
            await ws.send_str("x")
            await ws.receive()
    assert server.errors == []


async def test_startup_failure_is_raised(server_path: str) -> None:
    app = web.Application()

    async def bad_startup(app: web.Application) -> None:
        raise LookupError("no database")

    app.on_startup.append(bad_startup)
    port = unused_port()
    server = make_test_server(app, server_path, port=port)
    with pytest.raises(LookupError, match="no database"):
        await server.start_server()
    assert not server.started
    assert server.errors == []  # raised, so not reported a second time
    await server.close()  # nothing to close
    # The port was released: it can be listened on again at once.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


async def test_shutdown_failure_is_raised_by_close(server_path: str) -> None:
    app = make_app()

    async def bad_shutdown(app: web.Application) -> None:
        raise RuntimeError("shutdown went wrong")

    app.on_shutdown.append(bad_shutdown)
    server = make_test_server(app, server_path)
    await server.start_server()
    with pytest.raises(RuntimeError, match="shutdown went wrong"):
        await server.close()
    assert server.closed
    assert server.errors == []


async def test_raw_handler_server(server_path: str) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/fail":
            raise ZeroDivisionError
        return web.Response(text="raw " + request.path)

    server = make_test_server(handler, server_path)
    assert isinstance(server, RawTestServer if server_path == "native" else ASGITestServer)
    async with TestClient(server) as client:
        assert client.app is None
        assert await (await client.get("/x")).text() == "raw /x"
        assert (await client.get("/fail")).status == 500
    assert [type(e) for e in server.errors] == [ZeroDivisionError]


async def test_server_addresses_and_urls(server_path: str) -> None:
    port = unused_port()
    server = make_test_server(make_app(), server_path, port=port)
    assert not server.started
    async with server:
        assert server.started and not server.closed
        assert (server.scheme, server.host, server.port) == ("http", "127.0.0.1", port)
        assert str(server.make_url("/a?b=1")) == f"http://127.0.0.1:{port}/a?b=1"
        with pytest.raises(AssertionError):
            server.make_url("http://example.com/")
        async with aiohttp.ClientSession() as session:
            async with session.get(server.make_url("/")) as resp:
                assert await resp.text() == "GET /"
    assert server.closed and server.port is None


async def test_start_server_tolerates_loop_and_is_idempotent(server_path: str) -> None:
    server = make_test_server(make_app(), server_path)
    await server.start_server(loop=asyncio.get_running_loop())
    port = server.port
    await server.start_server()
    assert server.port == port
    await server.close()


async def test_skip_url_asserts() -> None:
    server = TestServer(make_app(), skip_url_asserts=True)
    async with TestClient(server) as client:
        assert str(client.make_url("//x")) == f"http://127.0.0.1:{client.port}//x"


async def test_native_server_kwargs_go_to_the_runner() -> None:
    server = TestServer(make_app(), max_field_size=100)
    async with TestClient(server) as client:
        assert isinstance(server, BaseTestServer) and server.runner is not None
        assert (await client.get("/", headers={"X-Big": "x" * 50})).status == 200
        assert (await client.get("/", headers={"X-Big": "x" * 200})).status in (400, 431)


async def test_asgi_server_settings_are_applied() -> None:
    app = make_app()
    async with TestClient(ASGITestServer(app, server="uvicorn", server_header=False)) as client:
        assert "Server" not in (await client.get("/")).headers
    async with TestClient(ASGITestServer(app, server="uvicorn")) as client:
        assert (await client.get("/")).headers["Server"] == "uvicorn"
    with pytest.raises(TypeError, match="no_such_setting"):
        await ASGITestServer(make_app(), server="hypercorn", no_such_setting=1).start_server()


async def test_sync_with_is_refused() -> None:
    server = TestServer(web.Application())
    with pytest.raises(TypeError, match="async with"):
        with server:
            pass


async def test_unknown_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="native, uvicorn, hypercorn"):
        make_test_server(web.Application(), "daphne")
    with pytest.raises(ValueError, match="unknown ASGI server"):
        ASGITestServer(web.Application(), server="daphne")
    with pytest.raises(TypeError, match="test server"):
        TestClient(object())  # type: ignore[call-overload]


async def test_asgi_servers_leave_signal_handling_alone(server_path: str) -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    async with make_test_server(make_app(), server_path):
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
