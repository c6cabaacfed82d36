"""The asyncio protocol of the native server: one instance per connection."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from asgiweb.handling import RequestPayloadError, error_response, respond
from asgiweb.streams import EMPTY_PAYLOAD, StreamReader, decode_body
from asgiweb.transport import RequestHead

from .sink import NativeSink
from .websocket import NativeWebSocket
from .wire.events import END_OF_MESSAGE
from .wire.parser import ConnectionInfo, ProtocolError, RequestParser
from .wire.serializer import serialize_head

if TYPE_CHECKING:
    from asgiweb.http.ws_handshake import DeflateParams

    from .server import Server

__all__ = ["BufferedHttpProtocol", "HttpProtocol"]

_Task = asyncio.Task

# Not on Windows; typed here because getattr() gives Any.
_sendfile: Callable[[int, int, int, int], int] | None = getattr(os, "sendfile", None)


_MSG_MORE: int = getattr(socket, "MSG_MORE", 0)  # Linux


def _send_more(sock: Any, data: bytes) -> int:
    """``send(data, MSG_MORE)`` on the socket a transport owns; how many bytes it took.

    asyncio's transports expose a ``TransportSocket``, which has no ``send``. The socket
    it wraps is used where it can be reached; otherwise a socket object is made over the
    same file descriptor for the one call, then detached, so that it never closes what the
    transport owns (making it costs a ``getsockname`` and a tenth of the Python a 1 MiB
    file response runs).
    """
    if not _MSG_MORE:
        return 0
    # The TransportSocket's own attribute, stable since Python 3.8; guarded all the same.
    wrapped = getattr(sock, "_sock", None)
    if type(wrapped) is socket.socket and wrapped.gettimeout() == 0.0:
        try:
            return wrapped.send(data, _MSG_MORE)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            return 0  # a closed connection: the transport finds out on its own write
    own = socket.socket(sock.family, sock.type, sock.proto, sock.fileno())
    try:
        if own.gettimeout() is not None:  # socket.setdefaulttimeout() was called
            own.setblocking(False)  # never wait here: the descriptor is non-blocking
        return own.send(data, _MSG_MORE)
    except (BlockingIOError, InterruptedError):
        return 0
    except OSError:
        return 0  # a closed connection: the transport finds out on its own write
    finally:
        own.detach()


def _push(sock: Any) -> None:
    """Send what ``MSG_MORE`` held back: setting TCP_NODELAY pushes pending data."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass  # not TCP (MSG_MORE does nothing there), or already closed


class HttpProtocol(asyncio.Protocol):
    """Parses requests, runs one handler at a time in wire order, writes responses.

    A plain ``Protocol``, which is what uvloop (and any loop that hands over a ``bytes`` of
    just what was read) serves fastest; on asyncio's own loops :meth:`Server.__call__
    <native_server.server.Server.__call__>` makes the :class:`BufferedHttpProtocol` kind.
    """

    # A class-level default: a connection that never upgrades pays nothing for it.
    _upgrade_tail = b""  # bytes after an upgrade head, before its channel takes over

    def __init__(self, server: Server) -> None:
        self._server = server
        self._loop = loop = server.loop
        # Read after every request (the keep-alive timer's start): asyncio's loop.time()
        # is time.monotonic() behind a Python frame, so call the clock itself, unless the
        # loop keeps its own time.
        self._clock = time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
        self._recv_buffer = server.recv_buffer
        self._parser = RequestParser(
            max_line_size=server.max_line_size,
            max_field_size=server.max_field_size,
            max_headers=server.max_headers,
        )
        self._transport: asyncio.Transport | None = None
        self._peername: Any = None
        self._sockname: Any = None
        self._scheme = "http"
        # A list, not a deque: an empty deque costs 624 bytes on every idle keep-alive
        # connection, a list 56, and at most max_pipelined requests ever wait here.
        self._pending: list[tuple[RequestHead, StreamReader]] = []
        self._reader: StreamReader = EMPTY_PAYLOAD  # the body the parser is filling
        self._task: asyncio.Task[None] | None = None  # the request being served
        self._plain_tasks = False  # see connection_made
        # Read after every request: instance values, whose reads CPython 3.11
        # specialises (a class-level default's it does not).
        self._websocket: NativeWebSocket | None = None
        self._rejected: ProtocolError | None = None  # answered once the requests before it are
        self._busy = False
        self._current_reader: StreamReader = EMPTY_PAYLOAD
        self._keepalive_handle: asyncio.TimerHandle | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._read_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._closing = False
        self._lost = False
        self._idle_since = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve ASGI for this protocol's server.

        uvicorn probes an app for being a factory by calling it with no arguments; for a
        :class:`Server` that call makes a protocol (as ``loop.create_server`` needs), and
        uvicorn then serves what it got. Answering ASGI here keeps that working.
        """
        await self._server(scope, receive, send)

    # -- connection ----------------------------------------------------------------------
    @property
    def transport(self) -> asyncio.Transport | None:
        """The connection's transport; None once it is lost (``request.protocol.transport``)."""
        return self._transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport's interface without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        self._peername = transport.get_extra_info("peername")
        self._sockname = transport.get_extra_info("sockname")
        if transport.get_extra_info("sslcontext") is not None:
            self._scheme = "https"
        if self._server.tcp_keepalive:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._parser.connection = ConnectionInfo(
            self._scheme, self._peername, self._sockname, transport, self._extra_info
        )
        self._server.connection_made(self)
        loop = self._loop
        # What loop.create_task() would do, without its Python frame, where that is all
        # it would do: asyncio's own loop with no task factory (uvloop's create_task is
        # compiled; a task factory, set before the connection came, is respected).
        self._plain_tasks = (
            type(loop).create_task is asyncio.BaseEventLoop.create_task
            and loop.get_task_factory() is None
        )
        self._arm_keepalive()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._transport = None
        self._server.connection_lost(self)
        self._cancel_keepalive()
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        error = ConnectionResetError("Connection lost")
        if not self._reader.is_eof():
            self._reader.set_exception(error)
        if not self._current_reader.is_eof():
            self._current_reader.set_exception(error)
        self._pending.clear()
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        if self._websocket is not None:
            self._websocket.connection_lost()
        if self._task is not None:
            if self._server.handler_cancellation:
                self._task.cancel()
        else:
            self._release()

    def _release(self) -> None:
        """The connection is gone and no request runs: drop what points back at this
        protocol (the parser, a WebSocket channel and the ``data_received`` it took
        over), so that the protocol is freed with its last reference rather than left in
        reference cycles for the garbage collector."""
        self._parser.close()
        self._websocket = None
        vars(self).pop("data_received", None)

    def _read_with(self, receiver: Callable[[bytes | memoryview], None] | None) -> None:
        """Hand what the connection reads from now on to ``receiver``; None: to the
        class's own (HTTP) ``data_received`` again."""
        if receiver is None:
            vars(self).pop("data_received", None)
        else:
            self.data_received = receiver  # type: ignore[method-assign, assignment]
        transport = self._transport
        if transport is not None and not isinstance(self, asyncio.BufferedProtocol):
            # uvloop reads a plain protocol's data_received once, when the protocol is
            # set: setting it again makes the transport take the new one.
            transport.set_protocol(self)

    def eof_received(self) -> bool:
        # The peer is gone (aiohttp treats a half-close the same way): close, which is
        # what lets handler_cancellation notice a client that left.
        return False

    # -- flow control --------------------------------------------------------------------
    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def pause_reading(self) -> None:
        if self._transport is not None and not self._read_paused:
            self._read_paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None and self._read_paused:
            self._read_paused = False
            self._transport.resume_reading()

    def write(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("Cannot write to closing transport")
        transport.write(data)

    async def drain(self) -> None:
        if not self._write_paused:
            return
        if self._transport is None:
            raise ConnectionResetError("Connection lost")
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self._drain_waiter = self._loop.create_future()
        await asyncio.shield(waiter)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def send_file_now(self, file: BinaryIO, offset: int, count: int, head: bytes = b"") -> int:
        """Hand up to ``count`` bytes of ``file`` from ``offset`` to the kernel at once,
        with ``sendfile(2)`` straight on the socket; the number of the file's bytes it took.

        Zero when the socket is full, or when this connection cannot: TLS, a platform
        without ``os.sendfile``, a file sendfile refuses, or bytes still queued in the
        transport (they must go first). The caller sends the rest its usual way. This is
        what ``loop.sendfile`` does in the end, without the writer registration, the
        paused reading and the extra loop turn it takes even when the file fits in the
        socket's buffer (and uvloop has no ``loop.sendfile`` at all).

        ``head`` (the response head), when given, is always sent or queued first. Where
        sendfile is used it goes out with ``MSG_MORE``, so that the kernel packs it with
        the file's first bytes: a head in a segment of its own, ahead of a large file,
        halved the throughput of a 1 MiB file over loopback.
        """
        transport = self._transport
        sendfile = _sendfile
        sock = None
        if (
            transport is not None
            and sendfile is not None
            and self._scheme == "http"  # TLS: the bytes must pass through the transport
            and not transport.get_write_buffer_size()
            and not transport.is_closing()  # write() refuses, as it refuses the head
        ):
            sock = transport.get_extra_info("socket")
        if sock is None or sendfile is None:
            if head:
                self.write(head)
            return 0
        if head:
            taken = _send_more(sock, head)
            if taken < len(head):
                # No MSG_MORE here, or the socket took part of it: the rest through the
                # transport (which pushes what was held back); the file follows at once
                # only if the transport could send it all.
                self.write(head[taken:])
                if transport is None or transport.get_write_buffer_size():
                    return 0
        sent = 0
        try:
            out, source = sock.fileno(), file.fileno()
            # One call, usually. A call may stop short with room left (on a Unix socket,
            # say): go on until the socket is full (EAGAIN) or the file is all sent.
            while taken := sendfile(out, source, offset + sent, count - sent):
                sent += taken
                if sent >= count:
                    break
        except (BlockingIOError, InterruptedError):
            pass
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ConnectionResetError("Connection lost") from exc
        except (OSError, ValueError):
            # EINVAL, ENOSYS and the like: not a file sendfile(2) takes; the usual way
            # for the rest (sent is 0 unless it failed part way).
            pass
        if head and not sent:
            # Nothing followed the head: let it go now, not when the kernel's cork
            # timer (200 ms) or the caller's next write would.
            _push(sock)
        return sent

    def close(self) -> None:
        """Close once the response in flight (if any) is written."""
        self._closing = True
        if not self._busy and self._transport is not None:
            self._transport.close()

    @property
    def idle(self) -> bool:
        return not self._busy and not self._pending

    # -- keep-alive ----------------------------------------------------------------------
    # One timer per idle period, not per request: finishing a response only records the
    # time, and the timer, when it fires early, re-arms itself for what is left.
    def _arm_keepalive(self) -> None:
        self._idle_since = self._clock()
        if self._keepalive_handle is None and self._server.keepalive_timeout:
            self._keepalive_handle = self._loop.call_at(
                self._idle_since + self._server.keepalive_timeout, self._keepalive_expired
            )

    def _cancel_keepalive(self) -> None:
        if self._keepalive_handle is not None:
            self._keepalive_handle.cancel()
            self._keepalive_handle = None

    def _keepalive_expired(self) -> None:
        self._keepalive_handle = None
        if self._transport is None or not self.idle:
            return
        deadline = self._idle_since + self._server.keepalive_timeout
        if self._loop.time() >= deadline:
            self._transport.close()
        else:
            self._keepalive_handle = self._loop.call_at(deadline, self._keepalive_expired)

    # -- requests ------------------------------------------------------------------------
    def data_received(self, data: bytes | memoryview) -> None:
        if self._closing:
            return
        error = None
        try:
            events = self._parser.feed(data)
        except ProtocolError as exc:
            # What came before the fault in this read is still served, ahead of the error.
            events, error = exc.events, exc
        for event in events:
            if type(event) is bytes:  # body bytes: the most frequent event
                self._reader.feed_data(event)
            elif event is END_OF_MESSAGE:
                if self._reader is not EMPTY_PAYLOAD:
                    self._reader.feed_eof()
            else:
                # The one type left. (isinstance() would narrow the union without the
                # ignore, but costs more than type() on every body chunk; typing.cast is
                # a Python call per request.)
                head: RequestHead = event  # type: ignore[assignment]
                if self._head_timer is not None:  # this head is complete
                    self._head_timer.cancel()
                    self._head_timer = None
                reader = EMPTY_PAYLOAD
                if head.has_body:
                    reader = StreamReader(flow=self, limit=self._server.read_bufsize)
                self._reader = reader
                self._pending.append((head, reader))
                if head.upgrade:
                    # What follows this head is not HTTP: keep it for the handler's channel.
                    self._read_with(self._data_after_upgrade)
        if error is not None:
            self._reject(error)
            return
        if self._head_timer is None and self._parser.head_pending:
            timeout = self._server.header_read_timeout
            if timeout:
                self._head_timer = self._loop.call_later(timeout, self._head_timed_out)
        if self._pending and not self._busy:
            self._serve_next()
        if len(self._pending) > self._server.max_pipelined:
            self.pause_reading()  # the client is far ahead of us: stop reading until we catch up

    def _data_after_upgrade(self, data: bytes | memoryview) -> None:
        if not self._parser.upgraded:
            HttpProtocol.data_received(self, data)  # still the upgrade request's own body
            return
        self._upgrade_tail += data
        if len(self._upgrade_tail) > self._server.read_bufsize:
            self.pause_reading()  # nobody reads yet: the handler has not upgraded

    def open_websocket(
        self, *, deflate: DeflateParams | None, max_msg_size: int, writer_limit: int
    ) -> NativeWebSocket | None:
        """Hand the connection to a WebSocket channel; None unless the request being
        served is the upgrade request that ended HTTP on this connection."""
        parser = self._parser
        if not parser.upgraded or self._pending or self._websocket or self._transport is None:
            return None
        channel = self._websocket = NativeWebSocket(
            self,
            deflate=deflate,
            max_msg_size=max_msg_size,
            writer_limit=writer_limit,
            read_limit=self._server.read_bufsize,
        )
        self._read_with(channel.data_received)
        tail = parser.trailing + self._upgrade_tail
        self._upgrade_tail = b""
        if tail:
            channel.data_received(tail)
        if self._read_paused and not channel._paused:
            self.resume_reading()
        return channel

    def _head_timed_out(self) -> None:
        """A head began ``header_read_timeout`` seconds ago and has not ended: 408, close."""
        self._head_timer = None
        if self._transport is None or self._closing or not self._parser.head_pending:
            return
        if self._busy or self._pending:
            # A pipelined head behind a response in flight: its time starts when it is next.
            timeout = self._server.header_read_timeout or 0
            self._head_timer = self._loop.call_later(timeout, self._head_timed_out)
            return
        self._reject(ProtocolError(408, "Timed out reading the request head"))

    def _reject(self, exc: ProtocolError) -> None:
        """Answer what the parser refused, then close: the byte stream cannot be trusted.

        Requests read before the fault are answered first, in order, as a pipelining
        client expects (RFC 9112 9.3.2); the error answers the request it broke.
        """
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        reader = self._reader
        if not reader.is_eof():
            # A handler may be reading this body: it fails rather than waits for ever.
            reader.set_exception(RequestPayloadError(exc.reason))
            if self._pending and self._pending[-1][1] is reader:
                self._pending.pop()  # not started yet: the error is its answer
            elif self._busy:
                # The request in flight broke its own body: its handler's response (or a
                # dropped connection) is its answer. The worker closes once it is done.
                self._closing = True
                return
        if self._transport is None:
            self._closing = True
        elif self._busy or self._pending:
            # Interleaving the error with a response in flight would corrupt both: it waits
            # its turn (see _run), and nothing more is read.
            self._rejected = exc
            self._read_with(self._discard)
            if not self._busy:
                self._serve_next()
        else:
            self._answer(exc)

    def _discard(self, data: bytes | memoryview) -> None:
        """Reads after a fault: never parsed, the stream cannot be trusted."""

    def _answer(self, exc: ProtocolError) -> None:
        """Write the error response and close."""
        self._closing = True
        if self._transport is None:
            return
        resp = error_response(None, exc.status, message=exc.reason)
        body = resp.body or b""
        head = serialize_head(
            (1, 1),
            exc.status,
            resp.reason,
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ],
        )
        self._transport.write(head + body)
        self._transport.close()

    def _extra_info(self, name: str, default: Any = None) -> Any:
        transport = self._transport
        if transport is None:
            return default
        return transport.get_extra_info(name, default)

    def _serve_next(self) -> None:
        """Start the oldest queued request. One task per request, in wire order: each
        request gets a fresh copy of the context, so a context variable a handler sets
        never leaks into the next request on the connection."""
        pending = self._pending
        head, reader = pending.pop(0)
        if self._read_paused and len(pending) <= self._server.max_pipelined:
            if reader is EMPTY_PAYLOAD or not reader.paused:
                self.resume_reading()
        self._busy = True
        self._current_reader = reader
        if self._plain_tasks:
            self._task = _Task(self._run(head, reader), loop=self._loop)
        else:
            self._task = self._loop.create_task(self._run(head, reader))

    async def _run(self, head: RequestHead, reader: StreamReader) -> None:
        """Run one request through the handler, then go on with the connection: the next
        request, the keep-alive wait, or closing. (One coroutine, not one for the request
        awaited by one for the connection: it runs for every request.)"""
        keep = False  # whether the connection may be reused
        try:
            server = self._server
            sink = NativeSink(self, head.version)
            body = decode_body(head, reader) if server.auto_decompress else reader
            request = server.request_factory(head, body, sink, self._task)  # positional: hot
            access = server.access_logger
            if access is not None and not access.enabled:
                access = None
            start = self._loop.time() if access is not None else 0.0
            server.requests_count += 1
            try:
                response = await respond(server.handler, request, server.logger, server.debug)
            except asyncio.CancelledError:
                # The client left (handler_cancellation), or the handler raised it: as
                # aiohttp, drop the connection rather than answer.
                if server.debug:
                    server.logger.debug("Ignored premature client disconnection")
                self._drop(sink)
                raise
            except Exception:  # respond() only lets through what it cannot answer
                server.logger.exception("Unhandled error while serving a request")
                self._drop(sink)
            except BaseException:
                self._drop(sink)  # KeyboardInterrupt and the like go on to the loop
                raise
            else:
                if response is not None and access is not None:
                    server.log_access(request, response, self._loop.time() - start)
                eof = reader.is_eof()
                if not eof:
                    # Read and drop the rest of the body for a while (lingering close):
                    # closing with unread bytes in the socket makes the kernel reset the
                    # connection, and the client may lose the response it was sent.
                    await self._linger(reader)
                    eof = reader.is_eof()
                # After an upgrade, HTTP goes on only if no channel took the connection over.
                keep = (
                    eof
                    and sink.keep_alive
                    and sink.finished
                    and not self._closing
                    and self._websocket is None
                )
        finally:
            self._busy = False
            self._task = None
            self._current_reader = EMPTY_PAYLOAD
            if self._lost:
                self._release()
        if self._lost:
            return
        if not keep:
            self._closing = True
            if self._websocket is not None:
                self._websocket.disconnect()  # lingers: the peer may still be sending
            elif self._transport is not None:
                self._transport.close()
            return
        if self._parser.upgraded and not self._pending:
            # Nothing queued after an upgrade head: the request just answered was it.
            self._resume_http()  # may start the next request, or reject what came
            if self._busy or self._closing:
                return
        if self._pending:
            self._serve_next()
        elif self._rejected is not None:  # the requests before the fault are answered
            self._answer(self._rejected)
        elif self._transport is not None:
            self._arm_keepalive()

    def _resume_http(self) -> None:
        """An upgrade request was answered without switching protocols (a 401, say): the
        connection stays HTTP, and what the client sent after that request is HTTP too."""
        server = self._server
        kept = self._parser.trailing + self._upgrade_tail
        self._upgrade_tail = b""
        self._parser = RequestParser(
            max_line_size=server.max_line_size,
            max_field_size=server.max_field_size,
            max_headers=server.max_headers,
            connection=self._parser.connection,
        )
        self._read_with(None)  # the class's HTTP data_received again
        if kept:
            self.data_received(kept)
        reader = self._reader
        if (
            self._read_paused
            and len(self._pending) <= server.max_pipelined
            and (reader is EMPTY_PAYLOAD or not reader.paused)
        ):
            self.resume_reading()

    def _drop(self, sink: NativeSink) -> None:
        """Give up on the connection: closed if nothing of the response went out (the
        client sees a clean disconnect), reset if a partial response did."""
        self._closing = True
        transport = self._transport
        if transport is None:
            return
        if sink.started and not sink.head_held:
            transport.abort()
        else:
            transport.close()

    async def _linger(self, reader: StreamReader) -> None:
        timeout = self._server.lingering_time
        if timeout <= 0 or self._transport is None:
            return
        deadline = self._loop.time() + timeout
        with contextlib.suppress(Exception):
            while not reader.is_eof() and self._loop.time() < deadline:
                async with asyncio.timeout(deadline - self._loop.time()):
                    if not await reader.readany():
                        break


class BufferedHttpProtocol(HttpProtocol, asyncio.BufferedProtocol):
    """:class:`HttpProtocol` reading into one buffer all of a server's connections share:
    the kind for asyncio's own loops.

    There a plain ``Protocol`` makes the transport allocate 256 KiB for every read and
    shrink it to what arrived, and with some heap layouts glibc then returns and re-faults
    those pages on every read (measured: two page faults per WebSocket message, twice the
    CPU per message). Sharing is safe because a read is parsed before the loop reads again,
    and nothing keeps a view of the buffer past :meth:`buffer_updated`. uvloop reads into a
    buffer of its own either way, and a buffered protocol only costs it two more Python
    calls a read.
    """

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._recv_buffer

    def buffer_updated(self, nbytes: int) -> None:
        # data_received may be the WebSocket channel's by now (see open_websocket).
        self.data_received(self._recv_buffer[:nbytes])
