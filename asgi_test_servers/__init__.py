"""The same Application served by uvicorn or hypercorn, in-process on the running loop.

uvicorn and hypercorn are imported only when such a server starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import ssl
from collections.abc import Iterator
from typing import Any, Protocol

from asgiweb import web
from asgiweb.app import Application
from asgiweb.testing.base import BaseTestServer

__all__ = ["ASGI_SERVERS", "ASGITestServer"]

ASGI_SERVERS = ("uvicorn", "hypercorn")


class _LifespanWatch:
    """The ASGI application as served: notes how its lifespan startup and shutdown end."""

    def __init__(self, app: Any) -> None:
        # A web.Server is an ASGI app through its instance's __call__ only: calling the
        # instance itself would make a protocol (see native_server.server.Server).
        self._call = app.__call__
        self.startup_failed: str | None = None
        self.shutdown_failed: str | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            return await self._call(scope, receive, send)  # type: ignore[no-any-return]

        async def watch(message: Any) -> None:
            if message["type"] == "lifespan.startup.failed":
                self.startup_failed = message.get("message", "")
            elif message["type"] == "lifespan.shutdown.failed":
                self.shutdown_failed = message.get("message", "")
            await send(message)

        await self._call(scope, receive, watch)


class _Backend(Protocol):
    ready: asyncio.Event

    async def serve(self) -> None: ...

    def stop(self) -> None: ...


class _Uvicorn:
    """uvicorn's Server on a socket of ours, signals left alone, stopped by :meth:`stop`."""

    def __init__(self, app: _LifespanWatch, sock: socket.socket, options: dict[str, Any]) -> None:
        import uvicorn

        settings: dict[str, Any] = {
            "interface": "asgi3",
            "lifespan": "on",
            "log_config": None,  # leave the test run's logging configuration alone
            "access_log": False,
            # As the native server: X-Forwarded-* from 127.0.0.1 are not trusted.
            "proxy_headers": False,
            "timeout_graceful_shutdown": 5,
        }
        self._server = _uvicorn_server_class()(uvicorn.Config(app, **{**settings, **options}))
        self._sock = sock
        self.ready = self._server.serving

    async def serve(self) -> None:
        try:
            await self._server.serve(sockets=[self._sock])
        except SystemExit as exc:
            # uvicorn exits the process when startup fails; a SystemExit escaping a task
            # would stop the test's event loop.
            raise RuntimeError(f"uvicorn exited with status {exc.code}") from None

    def stop(self) -> None:
        self._server.stop()


@functools.cache
def _uvicorn_server_class() -> Any:
    import uvicorn

    class InProcessServer(uvicorn.Server):
        def __init__(self, config: uvicorn.Config) -> None:
            super().__init__(config)
            self.serving = asyncio.Event()
            self._stopping = asyncio.Event()

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # Ctrl+C stays the test runner's

        async def main_loop(self) -> None:
            # uvicorn's loop polls should_exit every 0.1 s; waiting on an event instead
            # stops at once. A tick a second keeps the Date header current.
            self.serving.set()
            counter = 0
            while not await self.on_tick(counter):
                counter = (counter + 10) % 864000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1.0)

        def stop(self) -> None:
            self.should_exit = True
            self._stopping.set()

    return InProcessServer


class _Hypercorn:
    """hypercorn's ``serve`` on a socket of ours, stopped by a shutdown trigger."""

    def __init__(self, app: _LifespanWatch, sock: socket.socket, options: dict[str, Any]) -> None:
        from hypercorn.config import Config, Sockets

        config = Config()
        config.accesslog = None
        # A Logger object is used as is: hypercorn would otherwise replace the handlers
        # and level of "hypercorn.error".
        config.errorlog = logging.getLogger("hypercorn.error")
        config.graceful_timeout = 5
        for name, value in options.items():
            if not hasattr(config, name):
                raise TypeError(f"hypercorn's Config has no setting {name!r}")
            setattr(config, name, value)
        self.ready = asyncio.Event()

        def create_sockets() -> Sockets:
            # Called once the lifespan startup completed, right before serving.
            self.ready.set()
            return Sockets(secure_sockets=[], insecure_sockets=[sock], quic_sockets=[])

        config.create_sockets = create_sockets  # type: ignore[method-assign]
        self._config = config
        self._app = app
        self._stopping = asyncio.Event()

    async def serve(self) -> None:
        from hypercorn.asyncio import serve

        # _LifespanWatch.__call__ is a coroutine function: hypercorn takes it for ASGI.
        await serve(self._app, self._config, shutdown_trigger=self._stopping.wait)

    def stop(self) -> None:
        self._stopping.set()


_BACKENDS: dict[str, type[_Uvicorn | _Hypercorn]] = {"uvicorn": _Uvicorn, "hypercorn": _Hypercorn}


class ASGITestServer(BaseTestServer):
    """Serves an Application, or a low-level handler (as ``web.Server(handler)``), with
    uvicorn or hypercorn (``server=``) in-process on the running loop, lifespan on.

    Keyword arguments set the server's configuration (``uvicorn.Config`` arguments, or
    hypercorn ``Config`` attributes). A failing ``on_startup`` is raised by
    :meth:`start_server`, a failing ``on_shutdown``/cleanup by :meth:`close`, as on the
    native server.
    """

    def __init__(
        self,
        app: Any,
        *,
        server: str = "uvicorn",
        scheme: str = "",
        host: str = "127.0.0.1",
        port: int | None = None,
        **kwargs: Any,
    ) -> None:
        if server not in _BACKENDS:
            raise ValueError(f"unknown ASGI server {server!r}: expected one of {ASGI_SERVERS}")
        self.server_name = server
        self._server_loggers = (f"{server}.error",)
        self._app = app if isinstance(app, Application) else None
        self._asgi: Any = app if isinstance(app, (Application, web.Server)) else web.Server(app)
        self._task: asyncio.Task[None] | None = None
        self._backend: _Backend | None = None
        self._watch: _LifespanWatch | None = None
        super().__init__(scheme=scheme, host=host, port=port, **kwargs)

    @property
    def app(self) -> Application | None:
        return self._app

    @property
    def handler(self) -> Any:
        """The ASGI application served: the Application, or the ``web.Server``."""
        return self._asgi

    async def _start(
        self, sock: socket.socket, ssl_context: ssl.SSLContext | None, **kwargs: Any
    ) -> None:
        if ssl_context is not None:
            raise ValueError("ASGITestServer serves plain HTTP: use TestServer for ssl")
        self._watch = watch = _LifespanWatch(self._asgi)
        backend = _BACKENDS[self.server_name](watch, sock, kwargs)
        first = len(self.errors)
        task = asyncio.create_task(backend.serve(), name=f"{self.server_name} test server")
        ready = asyncio.create_task(backend.ready.wait())
        try:
            await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        finally:
            ready.cancel()
        if task.done():
            raise self._failure(first, "startup", watch.startup_failed, task)
        self._task, self._backend = task, backend
        task.add_done_callback(self._stopped)

    def _stopped(self, task: asyncio.Task[None]) -> None:
        if not self.closed:  # the server stopped on its own: record why
            exc = None if task.cancelled() else task.exception()
            self.errors.append(exc or RuntimeError(f"{self.server_name} stopped serving"))

    async def _stop(self) -> None:
        assert self._task is not None and self._backend is not None and self._watch is not None
        first = len(self.errors)
        self._backend.stop()
        await asyncio.wait({self._task})
        failed = not self._task.cancelled() and self._task.exception() is not None
        if failed or self._watch.shutdown_failed is not None:
            raise self._failure(first, "shutdown", self._watch.shutdown_failed, self._task)

    def _failure(
        self, first: int, phase: str, message: str | None, task: asyncio.Task[None]
    ) -> BaseException:
        """The error to raise for a failed startup or shutdown: the application's own
        exception when the server logged one (taken out of ``errors``: it is raised now),
        else one saying what the server reported."""
        cause = None if task.cancelled() else task.exception()
        for index in range(first, len(self.errors)):
            error = self.errors[index]
            if isinstance(error, BaseException) and error is not cause:
                del self.errors[index]
                return error
        detail = message or (repr(cause) if cause else "no reason given")
        error = RuntimeError(f"{self.server_name}: application {phase} failed: {detail}")
        error.__cause__ = cause
        return error
