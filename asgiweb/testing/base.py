"""What every test server shares: a free loopback socket, its URL, and the record of
the errors the server logged while it ran."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from yarl import URL

from ..asgi.adapter import ResponseAborted

if TYPE_CHECKING:
    import ssl

    from ..app import Application

__all__ = ["BaseTestServer", "ServerError", "get_port_socket", "unused_port"]

#: What ``server.errors`` holds: the exception of a record logged with one, else the record.
ServerError = BaseException | logging.LogRecord

# As aiohttp: SO_REUSEADDR means something else on Windows (another process may steal the port).
REUSE_ADDRESS = os.name == "posix" and sys.platform != "cygwin"


def get_port_socket(host: str, port: int, family: socket.AddressFamily) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: one the system chooses)."""
    # IPPROTO_TCP named, not left 0: asyncio sets TCP_NODELAY on an accepted connection
    # only when its socket says TCP (uvicorn and hypercorn rely on that; without it, a
    # response written in two parts waits out the client's delayed ACK, 40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    if REUSE_ADDRESS:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _ErrorRecorder(logging.Handler):
    """Appends what a server logs about failures to ``errors``, while attached.

    On ``asgiweb.server`` (where every transport logs a handler's unhandled exception) it
    keeps each record of level ERROR or above; on an ASGI server's own logger only those
    carrying an exception, less ``ResponseAborted``, whose cause asgiweb logged already.
    """

    def __init__(self, errors: list[ServerError], server_loggers: tuple[str, ...]) -> None:
        super().__init__(logging.ERROR)
        self.errors = errors
        self._names = ("asgiweb.server", *server_loggers)

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if record.name.startswith("asgiweb."):
            self.errors.append(exc if exc is not None else record)
        elif exc is not None and not isinstance(exc, ResponseAborted):
            self.errors.append(exc)

    def attach(self) -> None:
        for name in self._names:
            logging.getLogger(name).addHandler(self)

    def detach(self) -> None:
        for name in self._names:
            logging.getLogger(name).removeHandler(self)


class BaseTestServer(ABC):
    """A server on a free loopback port for the length of a test.

    ``errors`` lists the failures the server logged while it ran (an unhandled exception
    in a handler, which the client sees only as a 500 or a dropped connection): the
    exception when the record carries one, else the :class:`logging.LogRecord`. The
    record is process-wide: two servers running at once both see each other's errors.
    """

    __test__ = False
    #: The loggers of the server software besides ``asgiweb.server``.
    _server_loggers: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        scheme: str = "",
        loop: asyncio.AbstractEventLoop | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        skip_url_asserts: bool = False,
        socket_factory: Callable[[str, int, socket.AddressFamily], socket.socket] = (
            get_port_socket
        ),
        **kwargs: Any,
    ) -> None:
        self._loop = loop
        self._root: URL | None = None
        self.host = host
        self.port = port
        self.scheme = scheme
        self.skip_url_asserts = skip_url_asserts
        self.socket_factory = socket_factory
        self.errors: list[ServerError] = []
        self._recorder = _ErrorRecorder(self.errors, self._server_loggers)
        self._kwargs = kwargs
        self._started = False
        self._closed = False

    async def start_server(
        self, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any
    ) -> None:
        """Start listening; keyword arguments go to the server (as aiohttp's, ``loop`` is
        accepted and unused: the server runs on the running loop)."""
        if self._started:
            return
        ssl_context: ssl.SSLContext | None = kwargs.pop("ssl", None)
        sock = self._make_socket()
        host, port = sock.getsockname()[:2]
        self._recorder.attach()
        try:
            await self._start(sock, ssl_context, **{**self._kwargs, **kwargs})
        except BaseException:
            self._recorder.detach()
            sock.close()
            raise
        self._started = True
        self._sock = sock
        self.host, self.port = host, port
        if not self.scheme:
            self.scheme = "https" if ssl_context else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._root = URL(f"{self.scheme}://{host}:{self.port}")

    def _make_socket(self) -> socket.socket:
        try:
            version = ipaddress.ip_address(self.host).version
        except ValueError:  # a name, such as localhost
            version = 4
        family = socket.AF_INET6 if version == 6 else socket.AF_INET
        sock = self.socket_factory(self.host, self.port or 0, family)
        # Listening before the server adopts the socket: a connection made while it
        # finishes starting waits in the backlog instead of being refused.
        sock.listen(128)
        return sock

    @abstractmethod
    async def _start(
        self, sock: socket.socket, ssl_context: ssl.SSLContext | None, **kwargs: Any
    ) -> None:
        """Serve on ``sock`` (bound and listening); return once requests are answered."""

    @abstractmethod
    async def _stop(self) -> None:
        """Stop serving and run the application's shutdown and cleanup."""

    def make_url(self, path: str | URL) -> URL:
        """The absolute URL of ``path`` (a relative URL, unless ``skip_url_asserts``)."""
        assert self._root is not None, "the server is not started"
        url = URL(path)
        if not self.skip_url_asserts:
            assert not url.absolute, f"expected a relative URL, got {url}"
            return self._root.join(url)
        return URL(str(self._root) + str(path))

    @property
    def started(self) -> bool:
        return self._started

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def app(self) -> Application | None:
        """The application served; None for a low-level handler."""
        return None

    @property
    @abstractmethod
    def handler(self) -> Any:
        """The low-level server (native) or the ASGI application (ASGI servers)."""

    async def close(self) -> None:
        """Stop the server: ``on_shutdown`` and cleanup run. Idempotent."""
        if not self._started or self._closed:
            return
        self._closed = True
        try:
            await self._stop()
        finally:
            self._recorder.detach()
            self._sock.close()  # the server closed it, unless its stop failed
            self._root = None
            self.port = None

    def __enter__(self) -> None:
        raise TypeError("Use async with instead")

    def __exit__(  # noqa: B027 - only here to pair __enter__
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        pass  # pragma: no cover

    async def __aenter__(self) -> Self:
        await self.start_server(loop=self._loop)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
