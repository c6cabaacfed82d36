"""asgiweb.test_utils without a server: the facade, ports, loops, the error record."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import textwrap

import pytest

import asgiweb.test_utils as test_utils
from asgiweb import web
from asgiweb.asgi.adapter import ResponseAborted
from asgiweb.testing import mocked
from asgiweb.testing.base import _ErrorRecorder


def test_the_facade_exports_every_name() -> None:
    for name in test_utils.__all__:
        assert getattr(test_utils, name) is not None, name
    assert test_utils.MockSink is mocked.MockSink
    assert test_utils.make_mocked_request is mocked.make_mocked_request
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        test_utils.nothing  # noqa: B018


def test_without_aiohttp_the_client_says_what_to_install() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["aiohttp"] = None  # as if not installed
        import asgiweb.test_utils as t
        assert t.make_mocked_request("GET", "/").path == "/"
        assert t.TestServer and t.ASGITestServer and t.make_test_server
        assert "uvicorn" not in sys.modules and "hypercorn" not in sys.modules
        for name in ("TestClient", "AioHTTPTestCase"):
            try:
                getattr(t, name)
            except ImportError as exc:
                print(name, exc)
        try:
            from asgiweb.test_utils import TestClient
        except ImportError as exc:
            print("from-import", exc)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    ).stdout.splitlines()
    assert [line.split()[0] for line in out] == ["TestClient", "AioHTTPTestCase", "from-import"]
    for line in out:
        assert "is not installed: pip install aiohttp" in line, line


def test_unused_port_can_be_listened_on() -> None:
    port = test_utils.unused_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()


def test_test_sockets_say_tcp() -> None:
    # asyncio sets TCP_NODELAY on accepted connections only for sockets made with IPPROTO_TCP.
    sock = test_utils.get_port_socket("127.0.0.1", 0, socket.AF_INET)
    with sock:
        assert sock.proto == socket.IPPROTO_TCP


def test_loop_context_sets_and_closes_a_loop() -> None:
    with test_utils.loop_context() as loop:
        assert asyncio.get_event_loop() is loop
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    assert loop.is_closed()
    with pytest.raises(ZeroDivisionError), test_utils.loop_context(fast=True) as loop:
        1 / 0  # noqa: B018
    assert loop.is_closed()


def test_make_url_needs_a_started_server() -> None:
    server = test_utils.TestServer(web.Application())
    with pytest.raises(AssertionError, match="not started"):
        server.make_url("/")
    assert not server.started and not server.closed


@pytest.mark.asyncio
async def test_make_mocked_coro() -> None:
    coro = test_utils.make_mocked_coro(3)
    assert await coro(1, x=2) == 3
    coro.assert_called_once_with(1, x=2)
    with pytest.raises(KeyError):
        await test_utils.make_mocked_coro(raise_exception=KeyError("k"))()
    assert await test_utils.make_mocked_coro()() is None


def test_error_record_keeps_failures_only_while_attached() -> None:
    errors: list[test_utils.ServerError] = []
    recorder = _ErrorRecorder(errors, ("uvicorn.error",))
    ours, theirs = logging.getLogger("asgiweb.server"), logging.getLogger("uvicorn.error")
    recorder.attach()
    try:
        ours.warning("not a failure")
        ours.error("Missing return statement on request handler")
        try:
            raise ValueError("in a handler")
        except ValueError:
            ours.exception("Error handling request")
            theirs.exception("Exception in ASGI application")
        theirs.error("Application startup failed. Exiting.")  # says, carries nothing
        aborted = ResponseAborted("the handler failed after the response started")
        theirs.error("Exception in ASGI application", exc_info=aborted)
    finally:
        recorder.detach()
    ours.error("after detaching")
    assert isinstance(errors[0], logging.LogRecord)
    assert errors[0].getMessage() == "Missing return statement on request handler"
    assert errors[1] is errors[2] and isinstance(errors[1], ValueError)
    assert len(errors) == 3
