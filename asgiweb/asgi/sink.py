"""The ASGI ``http`` sink: a response as ``http.response.*`` messages, and the stand-ins
for ``request.transport`` and ``request.protocol`` built from the scope."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, BinaryIO

from multidict import CIMultiDict

from ..exceptions import HTTPNotImplemented
from ..streams import StreamReader, copy_file
from ..transport import HeldHeadSink

if TYPE_CHECKING:
    from asgiref.typing import ASGIReceiveCallable, ASGISendCallable

__all__ = ["ASGIConnection", "ASGISink", "ASGITransport"]

# Framing belongs to the ASGI server: it chunks or sets the length itself. (Date and
# Server are passed on as the application set them: uvicorn and hypercorn add their own
# unless told not to, see docs/differences.md; dropping the application's would leave a
# server run with --no-server-header without the one the application wants.)
_SKIP_HEADERS = frozenset({b"transfer-encoding"})
# RFC 9113 8.2.2: an HTTP/2 message with a connection-specific field is malformed (h2
# servers that check outgoing headers refuse the response); the server owns the
# connection and frames the body in DATA frames.
_CONNECTION_HEADERS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
_ws_logger = logging.getLogger("asgiweb.websocket")
# uvicorn without a WebSocket library (or run with ws="none") passes a handshake on as an
# ordinary 'http' request; without this hint the user sees only a 500 and a RuntimeError.
_NO_WEBSOCKET_SERVER = (
    "%s: a WebSocket handshake arrived as an ASGI 'http' request, so the ASGI server "
    "cannot accept WebSockets; answered 501. Under uvicorn, install a WebSocket library: "
    "pip install websockets (or 'asgiweb[uvicorn]', or 'uvicorn[standard]'), and do not "
    "run it with --ws none"
)


#: The largest body message a file is sent in. uvicorn waits for its write buffer to drain
#: below the high-water mark (64 KiB) before it writes a message, then writes the whole
#: message: each connection holds up to that mark plus two chunks (the one in the buffer,
#: the one waiting), so 256 KiB chunks cost some 600 KiB per slow connection. 64 KiB is
#: Starlette's size; docs/reliability.md has the figures.
ASGI_FILE_CHUNK = 64 * 1024

# Lower-cased wire names of the headers responses carry most; others are encoded per use.
_ENCODED_NAMES: dict[str, bytes] = {}


def _encode_name(name: str) -> bytes:
    encoded = name.encode("latin-1").lower()
    if len(_ENCODED_NAMES) < 256:  # bounded: header names can come from user input
        _ENCODED_NAMES[name] = encoded
    return encoded


class ASGISink(HeldHeadSink[dict[str, Any]]):
    """Sends a response as ``http.response.*`` messages; the held head is the
    ``http.response.start`` message."""

    detects_disconnect = True
    # Fields the server owns whatever the framing (the HTTP/2 sink's); otherwise only
    # Transfer-Encoding, and only on a chunked body, is left to the server.
    _connection_fields: frozenset[bytes] = frozenset()
    __slots__ = (
        "_send", "_scope", "_done", "aborted", "unread", "_receive", "_body", "_watcher",
        "disconnected", "_transport", "_protocol", "adds_default_headers",
    )  # fmt: skip

    def __init__(
        self,
        send: ASGISendCallable,
        scope: Any = None,
        receive: ASGIReceiveCallable | None = None,
        body: StreamReader | None = None,
    ) -> None:
        # As NativeSink: one sink per request, whose fields Response reads for every
        # response; a method on a class and instance values are specialised reads on
        # CPython 3.11, a super() lookup and a class attribute are not.
        HeldHeadSink.__init__(self)
        self.adds_default_headers = True
        self._send = send
        self._scope = scope  # read for its extensions only when a whole file is sent
        self._done = False
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
        # A loop, not a list comprehension: on CPython 3.11 a comprehension is a call of
        # its own, which costs more than the two or three fields a response has.
        raw = []
        for name, value in headers.items():
            # surrogateescape, as natively: a value copied from a request goes out with
            # the bytes the client sent.
            raw.append(
                (names.get(name) or _encode_name(name), value.encode("utf-8", "surrogateescape"))
            )
        dropped = self._connection_fields
        if chunked and not dropped:
            dropped = _SKIP_HEADERS
        if dropped:
            raw = [item for item in raw if item[0] not in dropped]
        self._held = {"type": "http.response.start", "status": status, "headers": raw}

    def _send_head(self, head: dict[str, Any]) -> Awaitable[None]:
        return self._send(head)  # type: ignore[arg-type]

    async def write(self, data: bytes) -> None:
        if self._watcher is None:
            self._watch()
        if self.disconnected or self.aborted:
            raise ConnectionResetError("Cannot write to closing transport")
        message = self._held
        if message is not None:  # inline flush(): one coroutine less per write
            self._held = None
            await self._send(message)  # type: ignore[arg-type]
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    def _watch(self) -> None:
        receive = self._receive
        body = self._body
        # Only once the request body is all in: receive() would take it from the reader.
        if receive is None or (body is not None and not body.is_eof()):
            return
        watcher = asyncio.get_running_loop().create_task(_until_disconnect(receive))
        watcher.add_done_callback(self._watch_ended)
        self._watcher = watcher

    def _watch_ended(self, watcher: asyncio.Task[None]) -> None:
        # Not cancelled (by close(), the exchange over): receive() said the client left,
        # or failed (asyncio reports that); either way nothing more reaches the client.
        if not watcher.cancelled():
            self.disconnected = True

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
        message = self._held
        if message is not None:  # inline flush(): one coroutine less per response
            self._held = None
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
        chunk_size = min(chunk_size, ASGI_FILE_CHUNK)
        await copy_file(file, offset, count, chunk_size, self.write)

    @property
    def can_send_path(self) -> bool:
        """True when the server offers the ``http.response.pathsend`` extension."""
        extensions: Any = self._scope.get("extensions") if self._scope else None
        return extensions is not None and "http.response.pathsend" in extensions

    async def send_path(self, path: str) -> None:
        """Send the file at the absolute ``path`` as the whole body, by name: the server
        opens and sends it (``http.response.pathsend``), which ends the response."""
        if self.aborted or self.disconnected:
            raise ConnectionResetError("Cannot write to closing transport")
        message = self._held
        if message is not None:
            self._held = None
            await self._send(message)  # type: ignore[arg-type]
        self._done = True  # no closing body message: write_eof() sends nothing more
        if self.unread is not None:
            await _discard_rest(*self.unread)
        # asgiref.typing has no event type for the pathsend extension.
        await self._send({"type": "http.response.pathsend", "path": path})  # type: ignore[arg-type]

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


class ASGIHTTP2Sink(ASGISink):
    """The ``http`` sink of an HTTP/2 request: the same messages, without the header
    fields that speak of a connection (the application may have set them, and StreamResponse
    adds ``Transfer-Encoding`` to a body without a length)."""

    __slots__ = ()
    _connection_fields = _CONNECTION_HEADERS


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


async def _until_disconnect(receive: ASGIReceiveCallable) -> None:
    """Return once ``receive()`` says the client left.

    A function, not a method of the sink: a cancelled watcher keeps its frames (through
    its CancelledError's traceback), and a frame holding the sink would make sink and
    task a reference cycle, left for the garbage collector on every streamed response.
    """
    while True:
        message: Any = await receive()
        if message["type"] == "http.disconnect":
            return


# What is read and thrown away of a request body the handler left unread (a 413, say)
# before the response ends. hypercorn closes a connection whose request did not end
# before its response did; the client, told nothing, may send its next request on it and
# see the server disconnect. Reading the rest first keeps the connection reusable.
# Bounded: past it, the server's own handling applies.
_DISCARD_LIMIT = 256 * 1024
_DISCARD_SECONDS = 1.0


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
