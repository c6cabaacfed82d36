"""AioHTTPTestCase subclasses, run by pytest's unittest support and by unittest itself."""

from __future__ import annotations

import io
import unittest
from typing import Any

import pytest

from asgiweb import web
from asgiweb.test_utils import AioHTTPTestCase, ASGITestServer, TestServer

EVENTS = web.AppKey("events", list[str])


async def hello(request: web.Request) -> web.Response:
    return web.Response(text=f"hello {request.query.get('name', 'you')}")


async def echo_ws(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data.upper())
    return ws


def make_app(events: list[str]) -> web.Application:
    app = web.Application()
    app[EVENTS] = events

    async def on_startup(app: web.Application) -> None:
        app[EVENTS].append("startup")

    async def on_cleanup(app: web.Application) -> None:
        app[EVENTS].append("cleanup")

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_get("/", hello)
    app.router.add_get("/ws", echo_ws)
    return app


class Checks:
    """The test methods, shared by one test case per path."""

    app: web.Application
    server: Any
    client: Any
    expected_server: type[Any]
    assertEqual: Any
    assertIsInstance: Any

    async def get_application(self) -> web.Application:
        return make_app([])

    async def test_get(self) -> None:
        resp = await self.client.get("/", params={"name": "case"})
        self.assertEqual(resp.status, 200)
        self.assertEqual(await resp.text(), "hello case")

    async def test_websocket(self) -> None:
        async with self.client.ws_connect("/ws") as ws:
            await ws.send_str("up")
            self.assertEqual(await ws.receive_str(), "UP")

    async def test_the_app_is_served_on_the_chosen_path(self) -> None:
        self.assertIsInstance(self.server, self.expected_server)
        self.assertEqual(self.app[EVENTS], ["startup"])
        self.assertEqual(self.client.app, self.app)


class TestNativeCase(Checks, AioHTTPTestCase):
    asgiweb_path = "native"
    expected_server = TestServer


class TestUvicornCase(Checks, AioHTTPTestCase):
    asgiweb_path = "uvicorn"
    expected_server = ASGITestServer


def _run(case: type[unittest.TestCase]) -> unittest.TestResult:
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    return unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)


@pytest.mark.parametrize("env_path", ["hypercorn", ""])
def test_the_environment_picks_the_path(monkeypatch: pytest.MonkeyPatch, env_path: str) -> None:
    monkeypatch.setenv("ASGIWEB_TEST_PATH", env_path)
    events: list[str] = []
    seen: list[Any] = []

    class Case(AioHTTPTestCase):
        async def get_application(self) -> web.Application:
            return make_app(events)

        async def test_served(self) -> None:
            seen.append(self.server)
            self.assertEqual(await (await self.client.get("/")).text(), "hello you")

        async def test_failing_assertion_fails(self) -> None:
            resp = await self.client.get("/")
            self.assertEqual(resp.status, 404)

    result = _run(Case)
    assert result.testsRun == 2
    assert not result.errors
    failed = [test._testMethodName for test, _ in result.failures]
    assert failed == ["test_failing_assertion_fails"]
    # Each test had its own app, started and cleaned up.
    assert events == ["startup", "cleanup"] * 2
    server = seen[0]
    if env_path:
        assert isinstance(server, ASGITestServer) and server.server_name == env_path
    else:
        assert isinstance(server, TestServer)
    assert server.closed


def test_an_unknown_path_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASGIWEB_TEST_PATH", "daphne")

    class Case(AioHTTPTestCase):
        async def get_application(self) -> web.Application:
            return web.Application()

        async def test_nothing(self) -> None:
            pass

    result = _run(Case)
    assert len(result.errors) == 1
    assert "unknown asgiweb path 'daphne'" in result.errors[0][1]


def test_get_application_must_be_defined() -> None:
    class Case(AioHTTPTestCase):
        async def test_nothing(self) -> None:
            pass

    result = _run(Case)
    assert len(result.errors) == 1
    assert "get_application()" in result.errors[0][1]
