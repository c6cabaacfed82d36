"""The ASGI adapter: scope -> request head, receive -> body, response -> send."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import traceback
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote, unquote

from multidict import CIMultiDict

from .asgi_websocket import ASGIWebSocketSink
from .exceptions import HTTPNotImplemented
from .helpers import HttpVersion, HttpVersion10, HttpVersion11, server_logger
from .http.targets import split_absolute_form
from .serving import respond
from .streams import EMPTY_PAYLOAD, StreamReader, copy_file, decode_body
from .transport import RequestHead, scan_headers

if TYPE_CHECKING:
    from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope

    from .app import Application
    from .request import BaseRequest
    from .serving import Handler

__all__ = ["ASGIAdapter", "ASGIConnection", "ASGITransport", "ResponseAborted", "lifespan"]

_VERSIONS = {"1.1": HttpVersion11, "1.0": HttpVersion10, "2": HttpVersion(2, 0)}
# Framing belongs to the ASGI server: it chunks or sets the length itself. (Date and
# Server are passed on as the application set them: uvicorn and hypercorn add their own
# unless told not to, see docs/differences.md; dropping the application's would leave a
# server run with --no-server-header without the one the application wants.)
_SKIP_HEADERS = frozenset({b"transfer-encoding"})
# A websocket scope says ws/wss; aiohttp's request.scheme is that of the handshake.
_WS_SCHEMES = {"ws": "http", "wss": "https"}
_ws_logger = logging.getLogger("asgiweb.websocket")
# uvicorn without a WebSocket library (or run with ws="none") passes a handshake on as an
# ordinary 'http' request; without this hint the user sees only a 500 and a RuntimeError.
_NO_WEBSOCKET_SERVER = (
    "%s: a WebSocket handshake arrived as an ASGI 'http' request, so the ASGI server "
    "cannot accept WebSockets; answered 501. Under uvicorn, install a WebSocket library: "
    "pip install websockets (or 'asgiweb[uvicorn]', or 'uvicorn[standard]'), and do not "
    "run it with --ws none"
)


# Lower-cased wire names of the headers responses carry most; others are encoded per use.
_ENCODED_NAMES: dict[str, bytes] = {}


def _encode_name(name: str) -> bytes:
    encoded = name.encode("latin-1").lower()
    if len(_ENCODED_NAMES) < 256:  # bounded: header names can come from user input
        _ENCODED_NAMES[name] = encoded
    return encoded


class ResponseAborted(RuntimeError):
    """The handler failed after the response head was sent; the server drops the connection."""


class ASGISink:
    """Sends a response as ``http.response.*`` messages."""

    adds_default_headers = True
    __slots__ = (
        "_send", "_start_message", "_scope", "_done", "started", "aborted", "unread",
        "_receive", "_body", "_watcher", "disconnected", "_transport", "_protocol",
    )  # fmt: skip

    def __init__(
        self,
        send: ASGISendCallable,
        scope: Any = None,
        receive: ASGIReceiveCallable | None = None,
        body: StreamReader | None = None,
    ) -> None:
        self._send = send
        self._start_message: dict[str, Any] | None = None
        self._scope = scope  # read for its extensions only if a file is sent
        self._done = False
        self.started = False
        self.aborted = False
        # The request body and the receive() that brings it, while the handler may leave
        # part of it unread (see _discard_rest).
        self.unread: tuple[StreamReader, ASGIReceiveCallable] | None = None
        self._receive = receive
        self._body = body
        # Watches receive() for http.disconnect while a streamed body goes out: uvicorn
        # drops what is sent after the client left without a word, so without it a
        # stream (server-sent events, say) would write to nobody for ever.
        self._watcher: asyncio.Task[None] | None = None
        self.disconnected = False
        self._transport: ASGITransport | None = None
        self._protocol: ASGIConnection | None = None

    def start(
        self,
        status: int,
        reason: str,
        headers: CIMultiDict[str],
        chunked: bool,
        keep_alive: bool,
        body_allowed: bool,
        flush: bool,
    ) -> None:
        self.started = True
        names = _ENCODED_NAMES
        raw = [
            (names.get(name) or _encode_name(name), value.encode("utf-8"))
            for name, value in headers.items()
        ]
        if chunked:
            raw = [item for item in raw if item[0] not in _SKIP_HEADERS]
        self._start_message = {"type": "http.response.start", "status": status, "headers": raw}

    async def flush(self) -> None:
        message = self._start_message
        if message is not None:
            self._start_message = None
            await self._send(message)  # type: ignore[arg-type]

    async def write(self, data: bytes) -> None:
        if self._watcher is None:
            self._watch()
        if self.disconnected or self.aborted:
            raise ConnectionResetError("Cannot write to closing transport")
        if self._start_message is not None:
            await self.flush()
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    def _watch(self) -> None:
        receive = self._receive
        body = self._body
        # Only once the request body is all in: receive() would take it from the reader.
        if receive is None or (body is not None and not body.is_eof()):
            return
        self._watcher = asyncio.get_running_loop().create_task(self._listen(receive))

    async def _listen(self, receive: ASGIReceiveCallable) -> None:
        while True:
            message: Any = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                return

    def close(self) -> None:
        """The exchange is over: stop watching for the client's disconnect."""
        watcher = self._watcher
        if watcher is not None and not watcher.done():
            watcher.cancel()

    @property
    def transport(self) -> ASGITransport | None:
        """The stand-in for ``request.transport``; None once the client left or was dropped."""
        if self.disconnected or self.aborted:
            return None
        transport = self._transport
        if transport is None:
            transport = self._transport = ASGITransport(self)
        return transport

    @property
    def protocol(self) -> ASGIConnection:
        protocol = self._protocol
        if protocol is None:
            protocol = self._protocol = ASGIConnection(self)
        return protocol

    async def write_eof(self, data: bytes = b"") -> None:
        if self.aborted or self.disconnected:
            self.close()
            raise ConnectionResetError("Cannot write to closing transport")
        message = self._start_message
        if message is not None:  # inline flush(): one coroutine less per response
            self._start_message = None
            await self._send(message)  # type: ignore[arg-type]
        if not self._done:
            self._done = True
            if self._watcher is not None:
                self.close()
            if self.unread is not None:
                await _discard_rest(*self.unread)
            await self._send({"type": "http.response.body", "body": data, "more_body": False})

    async def sendfile(self, file: BinaryIO, offset: int, count: int, chunk_size: int) -> None:
        await self.flush()
        name = getattr(file, "name", None)
        extensions: Any = self._scope.get("extensions") if self._scope else None
        pathsend = bool(extensions) and "http.response.pathsend" in extensions
        if pathsend and offset == 0 and isinstance(name, str) and os.path.isabs(name):
            if os.fstat(file.fileno()).st_size == count:
                self._done = True  # pathsend ends the response: no closing body message
                # asgiref.typing has no event type for the pathsend extension.
                await self._send({"type": "http.response.pathsend", "path": name})  # type: ignore[arg-type]
                return
        await copy_file(file, offset, count, chunk_size, self.write)

    async def send_continue(self) -> None:
        # ASGI servers send 100 Continue themselves when the app first reads the body.
        return None

    def abort(self) -> None:
        self.aborted = True

    def websocket(self, **_: Any) -> None:
        """Reached only by a valid handshake (WebSocketResponse checked it first) that the
        server delivered as an 'http' scope: refuse it with 501 and say what to install."""
        _ws_logger.error(_NO_WEBSOCKET_SERVER, (self._scope or {}).get("path", "?"))
        raise HTTPNotImplemented(text="This server cannot accept WebSocket connections.")


class ASGITransport:
    """``request.transport`` under ASGI: what the scope tells of the connection, no socket.

    An ASGI application never sees the socket; this stand-in answers
    :meth:`get_extra_info` for ``peername`` and ``sockname`` from the scope (``socket``
    and TLS details are unknown: ``default``), reports :meth:`is_closing`, and
    :meth:`abort`/:meth:`close` drop the connection (the server closes it when the
    handler returns). Writing to it raises: write through the response.
    """

    __slots__ = ("_sink",)

    def __init__(self, sink: ASGISink) -> None:
        self._sink = sink

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        scope = self._sink._scope or {}
        if name == "peername":
            value = scope.get("client")
        elif name == "sockname":
            value = scope.get("server")
        else:
            return default
        return tuple(value) if value is not None else default

    def is_closing(self) -> bool:
        return self._sink.disconnected or self._sink.aborted

    def abort(self) -> None:
        self._sink.abort()

    close = abort

    def get_protocol(self) -> ASGIConnection:
        return self._sink.protocol

    def write(self, data: bytes) -> None:
        raise RuntimeError(
            "request.transport under ASGI has no socket to write to: "
            "write through the response (StreamResponse.write)"
        )

    writelines = write

    def __repr__(self) -> str:
        return f"<ASGITransport peername={self.get_extra_info('peername')!r}>"


class ASGIConnection:
    """``request.protocol`` under ASGI (aiohttp's request handler); only ``transport``."""

    __slots__ = ("_sink",)

    def __init__(self, sink: ASGISink) -> None:
        self._sink = sink

    @property
    def transport(self) -> ASGITransport | None:
        return self._sink.transport


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
    version = _VERSIONS.get(http_version, HttpVersion11)
    # ASGI header names arrive lower-cased (the spec's promise).
    hosts, has_body, expect, upgrade, connection = scan_headers(raw_headers, True)
    if has_body:
        # A copy, taken now: uvicorn appends a chunked body's trailer fields to the
        # scope's list as they arrive, and trailers must never pass for header fields.
        # (Only a request with a body has trailers: a plain GET keeps the list.)
        raw_headers = list(raw_headers)
    if hosts != 1 and (http_version == "1.1" or (hosts and http_version == "1.0")):
        # The native server's rule (RFC 9112 3.2); HTTP/2 and /3 carry :authority instead.
        raise BadRequest("Duplicate Host header" if hosts else "Missing Host header")
    keep_alive = version is not HttpVersion10
    if connection is not None:
        connection = connection.lower()
        if b"close" in connection:
            keep_alive = False
        elif b"keep-alive" in connection:
            keep_alive = True
    # What routing and answering a request need, now; the rest (see _fill_from_scope)
    # when something asks for it.
    head = _new_head(RequestHead)
    head.method = scope["method"]
    head.path = raw_path
    head.version = version
    head._raw = raw_headers
    head._headers = None
    head.root_path = root_path
    head.keep_alive = keep_alive
    head.expect = expect
    head.has_body = has_body
    head.upgrade = upgrade
    head._fill = _fill_from_scope
    head._fill_from = scope
    if target is not None:
        head.scheme = target[1]
        head.authority = target[2]
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


_new_head = object.__new__


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
        handler: Handler,
        request_factory: Callable[..., BaseRequest],
        *,
        app: Application | None = None,
        debug: bool = False,
        logger: logging.Logger = server_logger,
    ) -> None:
        self._handler = handler
        self._request_factory = request_factory
        self._app = app
        self._debug = debug
        self._logger = logger
        self._read_bufsize = 2**16
        self._auto_decompress = True

    @classmethod
    def for_app(cls, app: Application) -> ASGIAdapter:
        adapter = cls(app._handle, app._make_request, app=app, debug=app.debug)  # type: ignore[arg-type]
        # As the native runner: handler_args may size the body buffer (read_bufsize) and
        # turn off inflating compressed bodies (auto_decompress).
        handler_args = app._handler_args or {}
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
        app = self._app
        if app is not None and not app._frozen:
            app.freeze()  # served without lifespan: no more changes from here on
        try:
            head = _head_from_scope(scope)
        except BadRequest as exc:
            await _refuse(send, str(exc))
            return
        payload: StreamReader = EMPTY_PAYLOAD
        sink = ASGISink(send, scope, receive)
        if head.has_body:
            body = payload = StreamReader(pull=_puller(receive, sink), limit=self._read_bufsize)
            sink._body = body
            if self._auto_decompress:
                payload = decode_body(head, payload)
            if not head.expect:  # a client waiting for 100 Continue has sent nothing yet
                sink.unread = (body, receive)
        # No task argument: asyncio.current_task() costs a getpid() system call on Python
        # 3.11, so request.task looks it up only if someone asks.
        request = self._request_factory(head, payload, sink)
        await respond(self._handler, request, self._logger, debug=self._debug)
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
        app = self._app
        if app is not None and not app._frozen:
            app.freeze()
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
        await respond(self._handler, request, self._logger, debug=self._debug)
        if sink.aborted:
            raise ResponseAborted("the handler failed after the WebSocket was accepted")

    async def _lifespan(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        app = self._app
        while True:
            message = await receive()
            if app is None:
                reply = message["type"] + ".complete"
                await send({"type": reply})  # type: ignore[misc,arg-type]
                if message["type"] == "lifespan.shutdown":
                    return
                continue
            if message["type"] == "lifespan.startup":
                try:
                    # As aiohttp's runner: startup handlers may still set app state.
                    app.pre_freeze()
                    await app.startup()
                    app.freeze()
                except BaseException as exc:
                    server_logger.exception("Application startup failed")
                    await send(
                        {
                            "type": "lifespan.startup.failed",
                            "message": "".join(traceback.format_exception_only(exc)).strip(),
                        }
                    )
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    try:
                        await app.shutdown()
                    except Exception:
                        await app.cleanup()  # as the native runner: cleaned up all the same
                        raise
                    await app.cleanup()
                except BaseException as exc:
                    server_logger.exception("Application shutdown failed")
                    await send(
                        {
                            "type": "lifespan.shutdown.failed",
                            "message": "".join(traceback.format_exception_only(exc)).strip(),
                        }
                    )
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return


# What is read and thrown away of a request body the handler left unread (a 413, say)
# before the response ends. hypercorn closes a connection whose request did not end
# before its response did; the client, told nothing, may send its next request on it and
# see the server disconnect. Reading the rest first keeps the connection reusable.
# Bounded: past it, the server's own handling applies.
_DISCARD_LIMIT = 256 * 1024
_DISCARD_SECONDS = 1.0


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


async def _discard_rest(body: StreamReader, receive: ASGIReceiveCallable) -> None:
    if body.is_eof() or body.exception() is not None:
        return
    left = _DISCARD_LIMIT
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_DISCARD_SECONDS):
            while left > 0:
                message: Any = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
                left -= len(message.get("body", b""))


def _puller(receive: ASGIReceiveCallable, sink: ASGISink) -> Any:
    async def pull(reader: StreamReader) -> None:
        message: Any = await receive()
        if message["type"] == "http.request":
            reader.feed_data(message.get("body", b""))
            if not message.get("more_body", False):
                reader.feed_eof()
        else:  # http.disconnect: the client left before sending the whole body
            sink.disconnected = True
            reader.set_exception(ConnectionResetError("client disconnected"))

    return pull


@contextlib.asynccontextmanager
async def lifespan(app: Application) -> AsyncIterator[None]:
    """Run ``app``'s startup on entry, its shutdown and cleanup on exit: for a host that
    does not forward lifespan events to mounted apps (Starlette's and FastAPI's ``mount``).

    ``Starlette(routes=[Mount("/legacy", app)], lifespan=lambda _: lifespan(app))``
    """
    # As aiohttp's runner: startup handlers may still set app state, and a failed
    # startup is not followed by cleanup.
    app.pre_freeze()
    await app.startup()
    app.freeze()
    try:
        yield
    finally:
        try:
            await app.shutdown()
        finally:
            await app.cleanup()
