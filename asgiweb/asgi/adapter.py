"""The ASGI adapter: scope -> request head, receive -> body, response -> a sink
(``sink.py`` for ``http``, ``websocket.py``), and the ``lifespan`` scope."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, unquote

from ..handling import respond
from ..helpers import HttpVersion11, server_logger
from ..http.targets import split_absolute_form
from ..http.versions import HTTP_VERSIONS, keep_alive
from ..streams import EMPTY_PAYLOAD, StreamReader, decode_body
from ..transport import RequestHead, blank_head, scan_headers
from .sink import ASGIHTTP2Sink, ASGISink
from .websocket import ASGIWebSocketSink

if TYPE_CHECKING:
    from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope

    from ..app import Application
    from ..lifecycle import ServedApplication
    from ..request import BaseRequest
    from ..typedefs import RequestHandler

__all__ = ["ASGIAdapter", "BadRequest", "ReceivedBody", "ResponseAborted", "lifespan"]

# A websocket scope says ws/wss; aiohttp's request.scheme is that of the handshake.
_WS_SCHEMES = {"ws": "http", "wss": "https"}


class ResponseAborted(RuntimeError):
    """The handler failed after the response head was sent; the server drops the connection."""


class BadRequest(Exception):
    """A request the native server would refuse with 400 before any handler runs."""


def _head_from_scope(scope: Any) -> RequestHead:
    path: str = scope["path"]
    raw: bytes | None = scope.get("raw_path")
    raw_path = raw.decode("latin-1") if raw else quote(path)
    target: tuple[str, str, str] | None = None
    if raw_path[:1] != "/":
        # Not origin-form: hypercorn passes an absolute-form target whole.
        target = _split_absolute(raw_path, scope.get("method"))
        if target is not None:
            raw_path = target[0]
            path = unquote(raw_path)
    root_path: str = scope.get("root_path", "")
    if root_path:
        raw_path = _strip_root_path(path, raw_path, root_path)
    raw_headers = scope["headers"]
    http_version = scope.get("http_version")
    version = HTTP_VERSIONS.get(http_version, HttpVersion11)
    # ASGI header names arrive lower-cased (the spec's promise).
    hosts, has_body, expect, upgrade, connection, first = scan_headers(raw_headers, True)
    if has_body:
        # A copy, taken now: uvicorn appends a chunked body's trailer fields to the
        # scope's list as they arrive, and trailers must never pass for header fields.
        # (Only a request with a body has trailers: a plain GET keeps the list.)
        raw_headers = list(raw_headers)
    if hosts != 1 and (http_version == "1.1" or (hosts and http_version == "1.0")):
        # The native server's rule (RFC 9112 3.2); HTTP/2 and /3 carry :authority instead.
        raise BadRequest("Duplicate Host header" if hosts else "Missing Host header")
    # What routing and answering a request need, now; the rest (see _fill_from_scope)
    # when something asks for it.
    head = blank_head(raw_headers, _fill_from_scope, scope)
    head._first = first
    head.method = scope["method"]
    head.path = raw_path
    head.version = version
    head.root_path = root_path
    head.keep_alive = keep_alive(version, connection)
    head.expect = expect
    head.has_body = has_body
    head.upgrade = upgrade
    if target is not None:
        head.scheme = target[1]
        head.authority = target[2]
    else:
        head.authority = None
    return head


def _split_absolute(target: str, method: str | None) -> tuple[str, str, str] | None:
    """``(raw path, scheme, authority)`` of an absolute-form target (RFC 9112 3.2.2), as
    the native server takes them; None for the asterisk and authority forms, which have
    no path to route. Raises :class:`BadRequest` for anything else."""
    absolute = split_absolute_form(target)
    if absolute is not None:
        scheme, authority, path, _ = absolute  # the query arrives apart, in query_string
        return path, scheme, authority
    if (target == "*" and method == "OPTIONS") or method == "CONNECT":
        return None
    raise BadRequest("Invalid request target")


def _fill_from_scope(scope: Any) -> dict[str, Any]:
    client = scope.get("client")
    server = scope.get("server")
    return {
        "query_string": scope["query_string"].decode("latin-1"),
        "scheme": scope.get("scheme", "http"),
        "peername": tuple(client) if client is not None else None,
        "sockname": tuple(server) if server is not None else None,
        "transport": None,
        "extra_info": None,
    }


def _strip_root_path(path: str, raw_path: str, root_path: str) -> str:
    """The raw path below ``root_path``; servers differ on whether ``path`` includes it."""
    if path.startswith(root_path):
        path = path[len(root_path) :]
        quoted_root = quote(root_path)
        if raw_path.startswith(quoted_root):
            raw_path = raw_path[len(quoted_root) :]
        elif raw_path.startswith(root_path):
            raw_path = raw_path[len(root_path) :]
        else:
            raw_path = quote(path)
    return raw_path if raw_path.startswith("/") else "/" + raw_path


class ASGIAdapter:
    """Serves a handler over ASGI: an :class:`Application`, or a low-level server's
    handler (then ``app`` is None and lifespan events have nothing to run)."""

    def __init__(
        self,
        handler: RequestHandler,
        request_factory: Callable[..., BaseRequest],
        *,
        served: ServedApplication | None = None,
        debug: bool = False,
        logger: logging.Logger = server_logger,
    ) -> None:
        self._handler = handler
        self._request_factory = request_factory
        self._served = served
        # Until a lifespan startup or the first request has frozen the application.
        self._unfrozen = served is not None
        self._debug = debug
        self._logger = logger
        self._read_bufsize = 2**16
        self._auto_decompress = True

    @classmethod
    def for_app(cls, app: Application) -> ASGIAdapter:
        served = app.serving()
        adapter = cls(served.handler, served.request_factory, served=served, debug=served.debug)
        # As the native runner: handler_args may size the body buffer (read_bufsize) and
        # turn off inflating compressed bodies (auto_decompress).
        handler_args = served.handler_args
        adapter._read_bufsize = handler_args.get("read_bufsize", 2**16)
        adapter._auto_decompress = bool(handler_args.get("auto_decompress", True))
        return adapter

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            raise RuntimeError(f"asgiweb cannot serve the ASGI scope type {kind!r}")

    async def http(self, scope: Any, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if self._unfrozen:
            self._freeze()
        try:
            head = _head_from_scope(scope)
        except BadRequest as exc:
            await _refuse(send, str(exc))
            return
        payload: StreamReader = EMPTY_PAYLOAD
        first: Any = None
        if head.version.major < 2:
            sink = ASGISink(send, scope, receive)
        else:
            # HTTP/2 drops the connection's header fields; HTTP/1 pays no extra step for it.
            sink = ASGIHTTP2Sink(send, scope, receive)
            if not head.has_body and not _has_length(scope["headers"]):
                first = await _body_follows(head, receive)
        body = None
        if head.has_body:
            body = payload = ReceivedBody(receive, sink, self._read_bufsize)
            sink._body = body
            if first is not None:
                body.take(first)
            if self._auto_decompress:
                payload = decode_body(head, payload)
            if not head.expect:  # a client waiting for 100 Continue has sent nothing yet
                sink.unread = (body, receive)
        # No task argument: asyncio.current_task() costs a getpid() system call on Python
        # 3.11, so request.task looks it up only if someone asks.
        request = self._request_factory(head, payload, sink)
        try:
            await respond(self._handler, request, self._logger, self._debug)
        finally:
            if body is not None:
                # The sink and the body point at each other: part them, so that both
                # (and the body's bytes) go when the request does, not at the next
                # garbage collection.
                body._sink = sink._body = sink.unread = None
        if sink._watcher is not None:
            sink.close()
        # A client that left needs no signal; a response cut short does: an exception is
        # how an ASGI application makes the server drop the connection.
        if sink.aborted and not sink.disconnected:
            raise ResponseAborted("the response was aborted after it started")

    async def _websocket(
        self, scope: Any, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Serve a WebSocket handshake as a GET request; the handler's WebSocketResponse
        accepts it, any other response refuses it."""
        if self._unfrozen:
            self._freeze()
        message = await receive()
        if message["type"] != "websocket.connect":
            return  # the client left before its handshake reached us
        try:
            head = _head_from_scope({**scope, "method": "GET"})  # a websocket scope has none
        except BadRequest:
            # Refused before any handler runs; the server answers the handshake with 403.
            await send({"type": "websocket.close", "code": 1000, "reason": ""})
            return
        head.scheme = _WS_SCHEMES.get(head.scheme, head.scheme)
        sink = ASGIWebSocketSink(scope, receive, send)
        request = self._request_factory(head, EMPTY_PAYLOAD, sink, task=asyncio.current_task())
        await respond(self._handler, request, self._logger, self._debug)
        if sink.aborted:
            raise ResponseAborted("the handler failed after the WebSocket was accepted")

    def _freeze(self) -> None:
        """Served without lifespan events: no more changes from the first request on."""
        self._unfrozen = False
        if self._served is not None:
            self._served.freeze()

    async def _lifespan(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        served = self._served
        while True:
            message = await receive()
            kind = message["type"]
            if served is None:  # a low-level server: nothing to start or stop
                await send({"type": kind + ".complete"})  # type: ignore[misc,arg-type]
                if kind == "lifespan.shutdown":
                    return
                continue
            starting = kind == "lifespan.startup"
            try:
                await (served.startup() if starting else served.stop())
            except BaseException as exc:
                step = "startup" if starting else "shutdown"
                server_logger.exception("Application %s failed", step)
                reason = "".join(traceback.format_exception_only(exc)).strip()
                await send({"type": f"{kind}.failed", "message": reason})  # type: ignore[misc,arg-type]
                return
            self._unfrozen = False
            await send({"type": kind + ".complete"})  # type: ignore[misc,arg-type]
            if kind == "lifespan.shutdown":
                return


async def _refuse(send: ASGISendCallable, reason: str) -> None:
    """Answer 400 as the native server answers a request it cannot parse, and close."""
    body = f"400 Bad Request\n\n{reason}".encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 400, "headers": headers})  # type: ignore[typeddict-item]
    await send({"type": "http.response.body", "body": body, "more_body": False})


class ReceivedBody(StreamReader):
    """A request body pulled from ``receive()``: one message per read, and only when the
    reader holds nothing, so the body held in the application is never more than the
    last message however far the client is ahead (the server's flow control bounds the
    rest; see tests/functional/test_asgi_memory.py)."""

    def __init__(self, receive: ASGIReceiveCallable, sink: ASGISink, limit: int) -> None:
        # A function, not a bound method of self: that would be a reference cycle, left
        # for the garbage collector (with the body it holds) on every request with a body.
        super().__init__(limit=limit, pull=_pull_one)
        self._receive = receive
        self._sink: ASGISink | None = sink  # None once the exchange is over

    def take(self, message: Any) -> None:
        """Feed one ``http.request`` message; ``http.disconnect`` fails the body."""
        if message["type"] == "http.request":
            self.feed_data(message.get("body", b""))
            if not message.get("more_body", False):
                self.feed_eof()
        else:  # the client left before sending the whole body
            if self._sink is not None:
                self._sink.disconnected = True
            self.set_exception(ConnectionResetError("client disconnected"))

    async def read_all(self, limit: int = 0) -> bytes:
        if self._buffer or self._pulling or self._eof or self._exception is not None:
            return await super().read_all(limit)
        # The whole body straight from the messages: none of them passes through the
        # buffer, which costs a microsecond or two per message (hypercorn sends many).
        parts: list[bytes] = []
        size = 0
        receive = self._receive
        more = True
        self._pulling = True
        try:
            while more:
                message: Any = await receive()
                if message["type"] != "http.request":
                    self.take(message)
                    break
                data = message.get("body", b"")
                if data:
                    parts.append(data)
                    size += len(data)
                more = message.get("more_body", False)
                if limit and size > limit:
                    break  # the caller refuses it; the sink discards the rest
        finally:
            self._pulling = False
        self.total_bytes += size
        self._cursor += size
        if self._exception is not None:
            raise self._exception
        if not more:
            self.feed_eof()
        return parts[0] if len(parts) == 1 else b"".join(parts)


async def _pull_one(reader: StreamReader) -> None:
    body = cast(ReceivedBody, reader)
    body.take(await body._receive())


def _has_length(raw_headers: Any) -> bool:
    return any(name == b"content-length" for name, _ in raw_headers)


async def _body_follows(head: RequestHead, receive: ASGIReceiveCallable) -> Any:
    """Settle ``head.has_body`` for an HTTP/2 request without Content-Length, whose body
    (DATA frames, RFC 9113 8.1) no header announces; the message read to learn it, if it
    carries a body (or the disconnect), else None.

    The scope cannot say whether the HEADERS frame ended the stream, so the first
    ``receive()`` is awaited now: the server has it at once for a request without a body.
    Not with ``Expect: 100-continue``: the client sends nothing until the server's 100,
    which the first ``receive()`` would send before the handler could refuse the body.
    """
    if head.expect:
        head.has_body = True  # read when asked, as a request with a length is
        return None
    message: Any = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        if not message.get("body"):
            return None
    head.has_body = True
    return message


@contextlib.asynccontextmanager
async def lifespan(app: Application) -> AsyncIterator[None]:
    """Run ``app``'s startup on entry, its shutdown and cleanup on exit: for a host that
    does not forward lifespan events to mounted apps (Starlette's and FastAPI's ``mount``).

    ``Starlette(routes=[Mount("/legacy", app)], lifespan=lambda _: lifespan(app))``
    """
    async with app.serving():
        yield
