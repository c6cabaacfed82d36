"""Test servers on the native server, and the choice of server by path name."""

from __future__ import annotations

import socket
import ssl
from typing import Any

from .. import web
from ..app import Application
from .base import BaseTestServer

__all__ = ["PATHS", "RawTestServer", "TestServer", "make_test_server"]

#: Every path a test can run on: the native server, then each in-process ASGI server.
# The ASGI servers are run by the asgi_test_servers package, imported only when asked for.
_ASGI_SERVERS = ("uvicorn", "hypercorn")
PATHS = ("native", *_ASGI_SERVERS)


class _NativeTestServer(BaseTestServer):
    """A test server whose runner serves on the native server."""

    runner: web.BaseRunner | None = None

    @property
    def handler(self) -> web.Server:
        """The low-level :class:`~asgiweb.web.Server` answering the requests."""
        assert self.runner is not None and self.runner.server is not None
        return self.runner.server

    async def _serve(
        self, runner: web.BaseRunner, sock: socket.socket, ssl_context: ssl.SSLContext | None
    ) -> None:
        await runner.setup()
        self.runner = runner
        await web.SockSite(runner, sock, ssl_context=ssl_context).start()

    async def _stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


class TestServer(_NativeTestServer):
    """Serves an :class:`~asgiweb.web.Application` on the native server; keyword
    arguments (here or to :meth:`start_server`) go to its :class:`~asgiweb.web.AppRunner`."""

    def __init__(
        self,
        app: Application,
        *,
        scheme: str = "",
        host: str = "127.0.0.1",
        port: int | None = None,
        **kwargs: Any,
    ) -> None:
        self._app = app
        super().__init__(scheme=scheme, host=host, port=port, **kwargs)

    @property
    def app(self) -> Application:
        return self._app

    async def _start(
        self, sock: socket.socket, ssl_context: ssl.SSLContext | None, **kwargs: Any
    ) -> None:
        # As aiohttp's test server: a client that goes away cancels its handler.
        kwargs.setdefault("handler_cancellation", True)
        await self._serve(web.AppRunner(self._app, **kwargs), sock, ssl_context)


class RawTestServer(_NativeTestServer):
    """Serves a low-level handler (``async def handler(request) -> response``) on the
    native server: ``web.Server(handler, **kwargs)`` through a ``ServerRunner``."""

    def __init__(
        self,
        handler: Any,
        *,
        scheme: str = "",
        host: str = "127.0.0.1",
        port: int | None = None,
        **kwargs: Any,
    ) -> None:
        self._handler = handler
        super().__init__(scheme=scheme, host=host, port=port, **kwargs)

    async def _start(
        self, sock: socket.socket, ssl_context: ssl.SSLContext | None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("handler_cancellation", True)
        # As aiohttp's: debug on, so a failing handler's 500 page carries its traceback.
        kwargs.setdefault("debug", True)
        shutdown_timeout = kwargs.pop("shutdown_timeout", 60.0)
        server = web.Server(self._handler, **kwargs)
        runner = web.ServerRunner(server, shutdown_timeout=shutdown_timeout)
        await self._serve(runner, sock, ssl_context)


def make_test_server(app_or_handler: Any, path: str = "native", **kwargs: Any) -> BaseTestServer:
    """A test server for an Application or a low-level handler on ``path``: ``"native"``
    (:class:`TestServer` or :class:`RawTestServer`), ``"uvicorn"`` or ``"hypercorn"``
    (:class:`ASGITestServer`). Keyword arguments go to the server's constructor."""
    if path == "native":
        if isinstance(app_or_handler, Application):
            return TestServer(app_or_handler, **kwargs)
        return RawTestServer(app_or_handler, **kwargs)
    if path in _ASGI_SERVERS:
        from asgi_test_servers import ASGITestServer

        return ASGITestServer(app_or_handler, server=path, **kwargs)
    raise ValueError(f"unknown path {path!r}: expected one of {', '.join(PATHS)}")
