"""The native server's WebSocket channel: the frame codec on an upgraded connection."""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING, Any, Final

from asgiweb.ws_types import WSMessage, WSMsgType

from .wire.websocket import (
    FrameReader,
    FrameWriter,
    WebSocketProtocolError,
    close_payload,
    plain_frame,
)

if TYPE_CHECKING:
    from asgiweb.http.ws_handshake import DeflateParams

    from .protocol import HttpProtocol

__all__ = ["NativeWebSocket"]

_CLOSED: Final = WSMessage(WSMsgType.CLOSED, None, None)
_CLOSING: Final = WSMessage(WSMsgType.CLOSING, None, None)
_CLOSE: Final = WSMsgType.CLOSE
# What a queued control message or close code counts for against the read limit.
_SMALL: Final = 16
_SIZED: Final = frozenset({str, bytes})


# How long a closed WebSocket connection keeps reading (and dropping) what the peer sends.
_LINGER = 2.0


def _drop(data: bytes | memoryview) -> None:
    """Bytes after our close: not read."""


class NativeWebSocket:
    """Frames in and out of an upgraded connection; implements
    :class:`~asgiweb.transport.WebSocketChannel`.

    Bytes from the peer are parsed as they arrive and complete messages are queued;
    when the queue holds more than twice ``read_limit`` bytes the transport stops
    reading until the application has taken it down to ``read_limit``. What is sent is
    framed as given: ``WebSocketResponse`` has checked it, as it does on every transport.
    """

    server_managed = False

    __slots__ = ("_protocol", "_loop", "_reader", "_encode", "_plain", "compress",
                 "last_activity", "track_activity", "_queue", "_queued", "_low_water",
                 "_paused", "_error", "_eof", "_waiter", "_interrupted")  # fmt: skip

    def __init__(
        self,
        protocol: HttpProtocol,
        *,
        deflate: DeflateParams | None,
        max_msg_size: int,
        writer_limit: int,
        read_limit: int,
    ) -> None:
        self._protocol = protocol
        self._loop = protocol._loop
        self._reader = FrameReader(max_msg_size=max_msg_size, deflate=deflate)
        self._encode = FrameWriter(deflate=deflate).encode
        # Without permessage-deflate every frame goes out as it is: str straight to a
        # frame, in one step (compiled, with the accelerator).
        self._plain = deflate is None
        self.compress = deflate.server_max_window_bits if deflate is not None else 0
        self.last_activity = self._loop.time()
        self.track_activity = False
        self._queue: collections.deque[tuple[WSMessage, int]] = collections.deque()
        self._queued = 0
        self._low_water = read_limit
        self._paused = False
        self._error: WebSocketProtocolError | None = None
        self._eof = False
        # Resolved with None to look again, or with the message itself when one was
        # waited for and arrived alone.
        self._waiter: asyncio.Future[WSMessage | None] | None = None
        self._interrupted = False
        transport = protocol._transport
        if transport is not None:
            # writer_limit is what may sit in the transport's buffer before send() waits.
            transport.set_write_buffer_limits(high=writer_limit)

    # -- from the transport ---------------------------------------------------------------
    def data_received(self, data: bytes | memoryview) -> None:
        """Parse bytes from the peer; the connection's ``data_received`` after the upgrade."""
        if self._error is not None:
            return  # failed: the connection is being closed, the rest is noise
        if self.track_activity:
            self.last_activity = self._loop.time()
        try:
            message = self._reader.feed_one(data)
            if message is not None:
                waiter = self._waiter
                if waiter is not None and not self._queue:
                    # The common case, a reader waiting for exactly this message: hand it
                    # over without queueing it.
                    self._waiter = None
                    if not waiter.done():
                        waiter.set_result(message)
                        return
                messages = [message]
            else:
                messages = self._reader.feed(data)
        except WebSocketProtocolError as exc:
            messages = exc.messages
            self._error = exc
        if messages:
            queued = self._queued
            for message in messages:
                payload = message.data
                size = len(payload) if payload.__class__ in _SIZED else _SMALL
                self._queue.append((message, size))
                queued += size
            self._queued = queued
            if queued > 2 * self._low_water and not self._paused:
                self._paused = True
                self._protocol.pause_reading()
        if messages or self._error is not None:
            self._wake()

    def connection_lost(self) -> None:
        self._eof = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- to the core ----------------------------------------------------------------------
    async def receive(self) -> WSMessage:
        """The next message, CLOSED at EOF, CLOSING after :meth:`interrupt`."""
        while True:
            if self._interrupted:
                self._interrupted = False
                return _CLOSING
            queue = self._queue
            if queue:
                message, size = queue.popleft()
                self._queued -= size
                if self._paused and self._queued <= self._low_water:
                    self._paused = False
                    self._protocol.resume_reading()
                return message
            if self._error is not None:
                raise self._error
            if self._eof:
                return _CLOSED
            waiter: asyncio.Future[WSMessage | None] = self._loop.create_future()
            self._waiter = waiter
            try:
                handed = await waiter
            except asyncio.CancelledError:
                # Cancelled (a receive timeout, say) after a message was handed over but
                # before this task ran again: the message is the next one, not lost.
                if not waiter.cancelled() and (kept := waiter.result()) is not None:
                    queue.appendleft((kept, _SMALL))
                    self._queued += _SMALL
                raise
            finally:
                self._waiter = None
            if handed is not None:
                return handed  # handed over by data_received

    @property
    def decode_text(self) -> bool:
        """False: TEXT messages arrive as their UTF-8 bytes (``decode_text=False``)."""
        return self._reader.decode_text

    @decode_text.setter
    def decode_text(self, value: bool) -> None:
        self._reader.decode_text = value

    def interrupt(self) -> None:
        self._interrupted = True
        self._wake()

    async def send(self, data: bytes | str, opcode: int, compress: int | None = None) -> None:
        if self._plain:
            frame = plain_frame(data, opcode)
        else:
            if isinstance(data, str):
                data = data.encode("utf-8")
            frame = self._encode(data, opcode, compress)
        protocol = self._protocol
        protocol.write(frame)
        if protocol._write_paused:
            await protocol.drain()

    async def close(self, code: int, reason: bytes, *, drain: bool = True) -> None:
        protocol = self._protocol
        protocol.write(self._encode(close_payload(code, reason), _CLOSE))
        if drain and protocol._write_paused:
            await protocol.drain()

    def disconnect(self) -> None:
        protocol = self._protocol
        transport = protocol._transport
        if transport is None:
            return
        if not transport.can_write_eof():  # TLS: close(), which still sends what is buffered
            transport.close()
            return
        # Our close frame, then FIN; the socket itself closes when the peer's FIN arrives,
        # or after _LINGER seconds. Closing it at once while the peer is still sending (the
        # rest of a message over max_msg_size, say) makes the kernel answer with a reset,
        # which can destroy our close frame before the peer has read it.
        try:
            transport.write_eof()
        except OSError:
            # The peer is gone already (it sent its close frame and hung up, so our reply
            # drew a reset): nothing to linger for.
            transport.close()
            return
        protocol.data_received = _drop  # type: ignore[method-assign]
        protocol.resume_reading()
        protocol._loop.call_later(_LINGER, transport.close)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._protocol._extra_info(name, default)
