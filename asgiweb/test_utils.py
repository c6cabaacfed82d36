"""Testing an application as aiohttp.test_utils does: test servers on every path (the
native server, uvicorn, hypercorn), a client, unittest cases, and mocked requests.

:class:`TestClient` and :class:`AioHTTPTestCase` need aiohttp (``pip install
'asgiweb[testing]'``); everything else imports without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgi_test_servers import ASGITestServer

from .testing.base import BaseTestServer, ServerError, get_port_socket, unused_port
from .testing.loops import loop_context, setup_test_loop, teardown_test_loop
from .testing.mocked import MockSink, MockWebSocketChannel, make_mocked_coro, make_mocked_request
from .testing.servers import PATHS, RawTestServer, TestServer, make_test_server

if TYPE_CHECKING:
    from .testing.case import AioHTTPTestCase, unittest_run_loop
    from .testing.client import TestClient

__all__ = [
    "PATHS",
    "ASGITestServer",
    "AioHTTPTestCase",
    "BaseTestServer",
    "MockSink",
    "MockWebSocketChannel",
    "RawTestServer",
    "ServerError",
    "TestClient",
    "TestServer",
    "get_port_socket",
    "loop_context",
    "make_mocked_coro",
    "make_mocked_request",
    "make_test_server",
    "setup_test_loop",
    "teardown_test_loop",
    "unittest_run_loop",
    "unused_port",
]

# The names that need aiohttp, and the module that defines each.
_NEED_AIOHTTP = {
    "TestClient": "client",
    "AioHTTPTestCase": "case",
    "unittest_run_loop": "case",
}


def __getattr__(name: str) -> Any:
    module_name = _NEED_AIOHTTP.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    try:
        module = importlib.import_module(f".testing.{module_name}", __package__)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] != "aiohttp":
            raise
        raise ImportError(
            f"asgiweb.test_utils.{name} is built on aiohttp's client, which is not "
            "installed: pip install aiohttp (or the `testing` extra: pip install -e '.[testing]' "
            "in a checkout)",
            name="aiohttp",
        ) from exc
    value = getattr(module, name)
    globals()[name] = value  # found directly from now on
    return value
