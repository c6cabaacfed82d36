"""The low-level server: a protocol factory that runs one handler per request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, overload

from asgiweb.helpers import access_logger, server_logger
from asgiweb.request import BaseRequest
from asgiweb.response import StreamResponse
from asgiweb.typedefs import RequestHandler

from .protocol import BufferedHttpProtocol, HttpProtocol

__all__ = ["Server"]


class Server:
    """Calls ``handler(request)`` for every request on every connection it makes.

    Use it as the protocol factory of ``loop.create_server``, or through
    :class:`ServerRunner` and a site.
    """

    def __init__(
        self,
        handler: RequestHandler,
        *,
        request_factory: Callable[..., BaseRequest] | None = None,
        handler_cancellation: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        keepalive_timeout: float = 75.0,
        header_read_timeout: float | None = 30.0,
        tcp_keepalive: bool = True,
        logger: logging.Logger = server_logger,
        access_log_class: Any = None,
        access_log: logging.Logger | None = access_logger,
        access_log_format: str | None = None,
        debug: bool = False,
        max_line_size: int = 8190,
        max_headers: int = 128,  # as aiohttp 3.14 (and its 3.13 branch)
        max_field_size: int = 8190,
        lingering_time: float = 10.0,
        read_bufsize: int = 2**16,
        auto_decompress: bool = True,
        **kwargs: Any,
    ) -> None:
        self.handler = handler
        self.request_factory = request_factory or self._make_request
        self.handler_cancellation = handler_cancellation
        self._loop = loop
        self.keepalive_timeout = keepalive_timeout
        # From a head's first byte to its last; past it, 408 and close (slowloris). None or
        # 0: no bound (aiohttp has none; keepalive_timeout still closes an idle connection).
        self.header_read_timeout = header_read_timeout
        self.tcp_keepalive = tcp_keepalive
        self.logger = logger
        self.debug = debug
        self.max_line_size = max_line_size
        self.max_headers = max_headers
        self.max_field_size = max_field_size
        self.lingering_time = lingering_time
        self.read_bufsize = read_bufsize
        self.auto_decompress = auto_decompress
        self.max_pipelined = 16
        # Where every connection's reads land on asyncio's own loops
        # (BufferedHttpProtocol.get_buffer): the size of the reads asyncio makes for a
        # plain Protocol, allocated once instead of per read.
        self.recv_buffer = memoryview(bytearray(256 * 1024))
        self.requests_count = 0
        self._connections: dict[HttpProtocol, None] = {}
        self._all_closed: asyncio.Event | None = None
        self._asgi: Any = None
        # `server()` goes through type(server).__call__ (sync: a protocol for create_server),
        # but ASGI servers decide "ASGI 3 or WSGI?" by inspecting `server.__call__`; this
        # instance attribute shows them a coroutine function with the same ASGI behaviour.
        self.__call__ = self._asgi_call  # type: ignore[method-assign, assignment]
        self.access_logger: Any = None
        if access_log is not None and access_log_class is not None:
            self.access_logger = access_log_class(access_log, access_log_format)
        self._extra = kwargs

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    @property
    def connections(self) -> list[HttpProtocol]:
        return list(self._connections)

    def _make_request(
        self, head: Any, payload: Any, sink: Any, task: asyncio.Task[Any] | None = None
    ) -> BaseRequest:
        return BaseRequest(head, payload, sink, task=task)

    def connection_made(self, protocol: HttpProtocol) -> None:
        self._connections[protocol] = None

    def connection_lost(self, protocol: HttpProtocol) -> None:
        self._connections.pop(protocol, None)
        if not self._connections and self._all_closed is not None:
            self._all_closed.set()

    def log_access(self, request: BaseRequest, response: StreamResponse, elapsed: float) -> None:
        try:
            self.access_logger.log(request, response, elapsed)
        except Exception:
            self.logger.exception("Error in access logger")

    def pre_shutdown(self) -> None:
        """Close idle keep-alive connections; busy ones close after their response."""
        for conn in list(self._connections):
            if conn.idle:
                conn.close()

    async def shutdown(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds for in-flight requests, then drop what remains."""
        for conn in list(self._connections):
            conn.close()  # idle ones close now, busy ones after their response
        if self._connections:
            self._all_closed = asyncio.Event()
            try:
                await asyncio.wait_for(self._all_closed.wait(), timeout)
            except TimeoutError:
                pass
        for conn in list(self._connections):
            conn.abort()

    async def _asgi_call(self, scope: Any, receive: Any, send: Any) -> None:
        await self(scope, receive, send)

    @overload
    def __call__(self) -> HttpProtocol: ...
    @overload
    def __call__(self, scope: Any, receive: Any, send: Any) -> Coroutine[Any, Any, None]: ...
    def __call__(self, scope: Any = None, receive: Any = None, send: Any = None) -> Any:
        """With no arguments, a protocol for ``loop.create_server``; with an ASGI
        ``(scope, receive, send)``, serve the same handler under an ASGI server."""
        if scope is None:
            if isinstance(self.loop, asyncio.BaseEventLoop):
                return BufferedHttpProtocol(self)  # see its docstring
            return HttpProtocol(self)
        asgi = self._asgi
        if asgi is None:
            from asgiweb.asgi.adapter import ASGIAdapter

            asgi = self._asgi = ASGIAdapter(
                self.handler, self.request_factory, debug=self.debug, logger=self.logger
            )
        return asgi(scope, receive, send)
