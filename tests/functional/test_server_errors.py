"""How the server answers a handler that fails, on every path: aiohttp's pages and logs."""

from __future__ import annotations

import asyncio
import gzip
import logging

import httpx
import pytest
from servers import ServerErrors

from asgiweb import web
from asgiweb.handling import RequestPayloadError

PAGE_500 = (
    "<html><head><title>500 Internal Server Error</title></head><body>\n"
    "<h1>500 Internal Server Error</h1>\n"
    "Server got itself in trouble\n"
    "</body></html>\n"
)


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def recorded() -> tuple[logging.Logger, Recorder]:
    logger = logging.getLogger("asgiweb.tests.server_errors")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    recorder = Recorder()
    logger.addHandler(recorder)
    yield logger, recorder
    logger.removeHandler(recorder)


async def boom(request: web.BaseRequest) -> web.Response:
    raise RuntimeError("custom runtime error")


def test_failure_is_logged_with_the_peer_and_the_exception(serve_app, recorded) -> None:
    logger, recorder = recorded
    with serve_app(web.Server(boom, logger=logger)) as server:
        r = httpx.get(server.url + "/x")
    assert r.status_code == 500
    failures = [rec for rec in recorder.records if rec.levelno == logging.ERROR]
    assert [rec.msg for rec in failures] == ["Error handling request from %s"]
    assert failures[0].args == ("127.0.0.1",)
    assert failures[0].exc_info is not None
    assert str(failures[0].exc_info[1]) == "custom runtime error"


@pytest.mark.parametrize("debug", [False, True])
def test_500_page_as_plain_text(serve_app, debug: bool) -> None:
    with serve_app(web.Server(boom, debug=debug), expect_errors=True) as server:
        r = httpx.get(server.url + "/x")
    assert server.logged("RuntimeError: custom runtime error")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/plain")
    if debug:
        assert r.text.startswith(
            "500 Internal Server Error\n\nTraceback (most recent call last):\n"
        )
        assert "custom runtime error" in r.text
    else:
        assert r.text == "500 Internal Server Error\n\nServer got itself in trouble"


@pytest.mark.parametrize("debug", [False, True])
def test_500_page_as_html(serve_app, debug: bool) -> None:
    with serve_app(web.Server(boom, debug=debug), expect_errors=True) as server:
        r = httpx.get(server.url + "/x", headers={"Accept": "text/html"})
    assert server.logged("RuntimeError: custom runtime error")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/html")
    if debug:
        assert r.text.startswith(
            "<html><head><title>500 Internal Server Error</title></head><body>\n"
            "<h1>500 Internal Server Error</h1>\n"
            "<h2>Traceback:</h2>\n"
            "<pre>Traceback (most recent call last):\n"
        )
        assert r.text.endswith("</pre>\n</body></html>\n")
    else:
        assert r.text == PAGE_500


def test_a_timeout_escaping_the_handler_is_504(serve_app, recorded) -> None:
    logger, recorder = recorded

    async def handler(request: web.BaseRequest) -> web.Response:
        raise TimeoutError("upstream too slow")

    with serve_app(web.Server(handler, logger=logger, debug=True)) as server:
        r = httpx.get(server.url + "/x")
    assert r.status_code == 504
    timed_out = [rec for rec in recorder.records if rec.msg == "Request handler timed out."]
    assert timed_out and timed_out[0].levelno == logging.DEBUG


def test_a_body_in_a_broken_coding_raises_request_payload_error(serve_app) -> None:
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        with pytest.raises(RequestPayloadError, match="not valid gzip"):
            await request.content.read()
        return web.Response(text="caught")

    async def uncaught(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app.router.add_post("/", handler)
    app.router.add_post("/uncaught", uncaught)
    with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
        r = client.post("/", content=b"test", headers={"Content-Encoding": "gzip"})
        assert (r.status_code, r.text) == (200, "caught")
        # Left to the server, it is the client's fault: 400.
        r = client.post("/uncaught", content=b"test", headers={"Content-Encoding": "gzip"})
        assert r.status_code == 400
        good = client.post("/uncaught", content=gzip.compress(b"ok"),
                           headers={"Content-Encoding": "gzip"})  # fmt: skip
        assert good.content == b"ok"


def test_read_bufsize_from_handler_args_sizes_the_body_buffer(serve_app) -> None:
    app = web.Application(handler_args={"read_bufsize": 2})

    async def handler(request: web.Request) -> web.Response:
        limits = request.content.get_read_buffer_limits()
        return web.Response(text=f"{await request.text()} {limits!r}")

    app.router.add_post("/", handler)
    with serve_app(app) as server:
        r = httpx.post(server.url, content=b"data")
    assert (r.status_code, r.text) == (200, "data (2, 4)")


def test_handler_errors_leave_other_requests_alone(serve_app) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/boom":
            await asyncio.sleep(0)
            raise RuntimeError("boom")
        return web.Response(text="fine")

    with (
        serve_app(web.Server(handler), expect_errors=True) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        assert client.get("/boom").status_code == 500
        assert client.get("/").text == "fine"
    assert [error.endswith("RuntimeError: boom") for error in server.errors] == [True]


def test_auto_decompress_off_in_handler_args_hands_over_the_raw_body(serve_app) -> None:
    app = web.Application(handler_args={"auto_decompress": False})

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app.router.add_post("/", echo)
    body = gzip.compress(b"as sent")
    with serve_app(app) as server:
        r = httpx.post(server.url, content=body, headers={"Content-Encoding": "gzip"})
    assert r.content == body


# -- the test helper itself: a server-side error fails the test that caused it ---------------


def test_an_unexpected_server_error_fails_the_test(serve_app) -> None:
    with pytest.raises(ServerErrors, match="RuntimeError: custom runtime error") as info:
        with serve_app(web.Server(boom)) as server:
            assert httpx.get(server.url + "/x").status_code == 500
    assert "pass expect_errors=True" in str(info.value)


def test_an_exception_left_to_the_event_loop_fails_the_test(serve_app) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        asyncio.get_running_loop().call_soon(lambda: 1 / 0)
        return web.Response(text="answered")

    with pytest.raises(ServerErrors, match="ZeroDivisionError"):
        with serve_app(web.Server(handler)) as server:
            assert httpx.get(server.url + "/x").text == "answered"


def test_an_expected_error_that_never_comes_fails_the_test(serve_app) -> None:
    with pytest.raises(ServerErrors, match="logged no error"):
        with serve_app(web.Server(boom), expect_errors=True) as server:
            pass
    assert server.errors == []


def test_a_failing_test_gets_the_server_errors_as_notes(serve_app) -> None:
    with pytest.raises(LookupError) as info:
        with serve_app(web.Server(boom)) as server:
            httpx.get(server.url + "/x")
            raise LookupError("the test's own failure")
    assert any("custom runtime error" in note for note in info.value.__notes__)
