"""WebSocketResponse: the server side of a WebSocket, the same on every transport.

The response owns the meaning (states, autoping, heartbeat, JSON, timeouts, close
codes); the transport's :class:`~asgiweb.transport.WebSocketChannel` moves the messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, NamedTuple, TypeVar, overload

from .helpers import dumps_json
from .http.ws_handshake import HandshakeError
from .response import StreamResponse
from .streams import EofStream
from .ws_heartbeat import Heartbeat
from .ws_types import WebSocketError, WSCloseCode, WSMessage, WSMsgType, check_close, check_frame
from .ws_upgrade import accept_handshake, negotiate, open_channel

if TYPE_CHECKING:
    from .request import BaseRequest
    from .transport import ResponseSink, WebSocketChannel

__all__ = ["WebSocketReady", "WebSocketResponse", "WSMessageTypeError"]

ws_logger = logging.getLogger("asgiweb.websocket")

# As aiohttp: receive() on a closed WebSocket returns CLOSED this many times, then
# raises, so a loop that ignores CLOSED cannot spin forever.
_CLOSED_RECEIVES_BEFORE_ERROR: Final = 5
_CLOSED_MESSAGE: Final = WSMessage(WSMsgType.CLOSED, None, None)
_CLOSING_MESSAGE: Final = WSMessage(WSMsgType.CLOSING, None, None)
_END_TYPES: Final = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED})
# Looked up once for the per-message paths: attribute access on an Enum class is not free.
_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_JSON_DUMPS: Final = json.dumps  # the default encoder, for which dumps_json() stands in


class WSMessageTypeError(TypeError):
    """``receive_str()``/``receive_bytes()`` got a message of another type."""


class WebSocketReady(NamedTuple):
    """What :meth:`WebSocketResponse.can_prepare` found; false when ``ok`` is."""

    ok: bool
    protocol: str | None

    def __bool__(self) -> bool:
        return self.ok


# True (the default) or False, as given for ``decode_text``: it decides whether TEXT
# messages are typed ``str`` or ``bytes``.
_DecodeText = TypeVar("_DecodeText", bound=bool, covariant=True)


class WebSocketResponse(StreamResponse, Generic[_DecodeText]):
    """The server side of a WebSocket: ``await ws.prepare(request)``, then messages."""

    _length_check = False
    _channel: WebSocketChannel | None = None
    _ws_protocol: str | None = None
    _closed = False
    _closing = False
    _waiting = False
    _conn_lost = 0
    _close_code: int | None = None
    _exception: BaseException | None = None
    # close() from another task waits here for the receiving task to step aside.
    _close_wait: asyncio.Future[None] | None = None
    # What a pending receive() returns instead of the channel's message (CLOSING, ERROR).
    _injected: WSMessage | None = None
    _heartbeat_timer: Heartbeat | None = None

    @overload
    def __init__(
        self: WebSocketResponse[Literal[True]],
        *,
        timeout: float = 10.0,
        receive_timeout: float | None = None,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: float | None = None,
        protocols: Iterable[str] = (),
        compress: bool | int = True,
        max_msg_size: int = 4 * 1024 * 1024,
        writer_limit: int = 64 * 1024,
        decode_text: Literal[True] = True,
    ) -> None: ...

    @overload
    def __init__(
        self: WebSocketResponse[Literal[False]],
        *,
        timeout: float = 10.0,
        receive_timeout: float | None = None,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: float | None = None,
        protocols: Iterable[str] = (),
        compress: bool | int = True,
        max_msg_size: int = 4 * 1024 * 1024,
        writer_limit: int = 64 * 1024,
        decode_text: Literal[False],
    ) -> None: ...

    @overload
    def __init__(
        self: WebSocketResponse[bool],
        *,
        timeout: float = 10.0,
        receive_timeout: float | None = None,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: float | None = None,
        protocols: Iterable[str] = (),
        compress: bool | int = True,
        max_msg_size: int = 4 * 1024 * 1024,
        writer_limit: int = 64 * 1024,
        decode_text: bool = True,
    ) -> None: ...

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        receive_timeout: float | None = None,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: float | None = None,
        protocols: Iterable[str] = (),
        compress: bool | int = True,
        max_msg_size: int = 4 * 1024 * 1024,
        writer_limit: int = 64 * 1024,
        decode_text: bool = True,
    ) -> None:
        super().__init__(status=101)
        self._timeout = timeout
        self._receive_timeout = receive_timeout
        self._autoclose = autoclose
        self._autoping = autoping
        self._heartbeat = heartbeat
        self._protocols = tuple(protocols)
        self._ws_compress: bool | int = compress
        self._max_msg_size = max_msg_size
        self._writer_limit = writer_limit
        # False: TEXT messages arrive as UTF-8 bytes (for parsers such as orjson that take
        # bytes); still checked to be UTF-8, as RFC 6455 §8.1 requires.
        self._decode_text = decode_text
        self._loop: asyncio.AbstractEventLoop | None = None
        # What receive() reads for every message, as instance values: CPython 3.11
        # specialises those reads, not reads of the class-level defaults.
        self._closed = self._closing = self._waiting = False
        self._injected = self._close_wait = None

    # -- the opening handshake ------------------------------------------------------------
    async def prepare(self, request: BaseRequest) -> ResponseSink | None:
        """Answer the opening handshake with ``101 Switching Protocols``. Idempotent.

        Raises an :class:`HTTPException` (400, or 426 for an unsupported version) when
        the request is no valid handshake, :class:`RuntimeError` when the transport
        serving it cannot upgrade the connection.
        """
        if self._channel is not None or self._eof_sent:
            return self._sink
        shake = accept_handshake(request, self._protocols, self._ws_compress)
        channel = open_channel(
            request,
            shake,
            max_msg_size=self._max_msg_size,
            writer_limit=self._writer_limit,
            decode_text=self._decode_text,
        )
        self.set_status(101)  # whatever was set before: the answer to a handshake is 101
        self._headers.update(shake.headers)
        self.force_close()  # no HTTP keep-alive after an upgrade
        sink = await super().prepare(request)
        self._loop = asyncio.get_running_loop()
        self._channel = channel
        self._ws_protocol = shake.protocol
        self._ws_compress = channel.compress
        self._start_heartbeat(channel)
        return sink

    def can_prepare(self, request: BaseRequest) -> WebSocketReady:
        """Whether :meth:`prepare` would accept ``request``, and the subprotocol it would pick."""
        if self._channel is not None:
            raise RuntimeError("Already started")
        try:
            shake = negotiate(request, self._protocols, self._ws_compress)
        except HandshakeError:
            return WebSocketReady(False, None)
        return WebSocketReady(True, shake.protocol)

    # -- state ------------------------------------------------------------------------------
    @property
    def prepared(self) -> bool:
        """True once :meth:`prepare` has completed the handshake."""
        return self._channel is not None

    @property
    def closed(self) -> bool:
        """True once the WebSocket is closed or closing on our side."""
        return self._closed

    @property
    def close_code(self) -> int | None:
        """The peer's close code; 1006 when the connection ended without one."""
        return self._close_code

    @property
    def ws_protocol(self) -> str | None:
        """The agreed subprotocol, or None."""
        return self._ws_protocol

    @property
    def compress(self) -> bool | int:
        """Before :meth:`prepare` the setting; after, the deflate window bits in use (0: none)."""
        return self._ws_compress

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport information, such as ``peername``."""
        channel = self._channel
        return default if channel is None else channel.get_extra_info(name, default)

    def exception(self) -> BaseException | None:
        """The last error met on this WebSocket, or None."""
        return self._exception

    def _set_closed(self) -> None:
        self._closed = True
        self._cancel_heartbeat()

    def _set_closing(self, code: int) -> None:
        self._closing = True
        self._close_code = code
        self._cancel_heartbeat()

    def _end(self, channel: WebSocketChannel, code: int) -> None:
        self._close_code = code
        channel.disconnect()

    # -- sending ------------------------------------------------------------------------------
    def _live(self) -> WebSocketChannel:
        channel = self._channel
        if channel is None:
            raise RuntimeError("Call .prepare() first")
        if self._closed:
            raise ConnectionResetError("Cannot send on a closed WebSocket")
        return channel

    async def ping(self, message: bytes | str = b"") -> None:
        """Send a PING (a no-op under ASGI, where the server pings)."""
        await self.send_frame(_as_bytes(message), WSMsgType.PING)

    async def pong(self, message: bytes | str = b"") -> None:
        """Send an unsolicited PONG (a no-op under ASGI)."""
        await self.send_frame(_as_bytes(message), WSMsgType.PONG)

    async def send_str(self, data: str, compress: int | None = None) -> None:
        """Send a TEXT message."""
        channel = self._channel
        if channel is None or self._closed:
            channel = self._live()  # raises the right error
        if not isinstance(data, str):
            raise TypeError(f"data argument must be str ({type(data)!r})")
        await channel.send(data, _TEXT, compress)

    async def send_bytes(
        self, data: bytes | bytearray | memoryview, compress: int | None = None
    ) -> None:
        """Send a BINARY message."""
        channel = self._channel
        if channel is None or self._closed:
            channel = self._live()  # raises the right error
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be byte-ish ({type(data)!r})")
        await channel.send(data if data.__class__ is bytes else bytes(data), _BINARY, compress)

    async def send_json(
        self,
        data: Any,
        compress: int | None = None,
        *,
        dumps: Callable[[Any], str] = json.dumps,
    ) -> None:
        """Send ``data`` serialised by ``dumps`` as a TEXT message."""
        await self.send_str(
            dumps_json(data) if dumps is _JSON_DUMPS else dumps(data), compress=compress
        )

    async def send_json_bytes(
        self,
        data: Any,
        compress: int | None = None,
        *,
        dumps: Callable[[Any], bytes],
    ) -> None:
        """Send ``data`` serialised by ``dumps``, an encoder that returns bytes (such as
        ``orjson.dumps``), as a BINARY message: no decoding and re-encoding on the way."""
        await self.send_bytes(dumps(data), compress=compress)

    async def send_frame(
        self, message: bytes, opcode: WSMsgType | int, compress: int | None = None
    ) -> None:
        """Send ``message`` as one frame of type ``opcode``, as given."""
        channel = self._live()
        check_frame(opcode, len(message))  # here, not in a channel: alike on every transport
        await channel.send(message, WSMsgType(opcode), compress)

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        raise RuntimeError("Cannot call .write() for websocket")

    async def write_eof(self, data: bytes = b"") -> None:
        """Close the WebSocket (called once the handler returns). Idempotent."""
        if self._eof_sent:
            return
        if self._channel is None:
            raise RuntimeError("Response has not been started")
        await self.close()
        self._eof_sent = True

    # -- closing ------------------------------------------------------------------------------
    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes | str = b"", drain: bool = True
    ) -> bool:
        """Send a close frame and wait up to ``timeout`` seconds for the peer's.

        Returns False when the WebSocket was already closed. Safe to call from
        another task than the one receiving.
        """
        channel = self._channel
        if channel is None:
            raise RuntimeError("Call .prepare() first")
        if self._closed:
            return False
        reason = _as_bytes(message)
        check_close(code, reason)
        self._set_closed()
        try:
            await channel.close(code, reason, drain=drain)
        except asyncio.CancelledError:
            self._end(channel, WSCloseCode.ABNORMAL_CLOSURE)
            raise
        except Exception as exc:
            self._exception = exc
            self._end(channel, WSCloseCode.ABNORMAL_CLOSURE)
            return True
        if self._waiting and not await self._stop_receiver(channel):
            return True
        if self._closing:
            # The peer's close frame came first: the handshake is complete.
            channel.disconnect()
            return True
        return await self._await_close_reply(channel)

    async def _stop_receiver(self, channel: WebSocketChannel) -> bool:
        """Have the pending receive() return CLOSING; False if it would not in time."""
        assert self._loop is not None
        waiter = self._close_wait = self._loop.create_future()
        self._injected = _CLOSING_MESSAGE
        channel.interrupt()
        try:
            async with asyncio.timeout(self._timeout):
                await waiter
        except TimeoutError as exc:
            self._exception = exc
            self._end(channel, WSCloseCode.ABNORMAL_CLOSURE)
            return False
        finally:
            self._close_wait = None
        return True

    async def _await_close_reply(self, channel: WebSocketChannel) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                while True:
                    msg = await channel.receive()
                    if msg.type is WSMsgType.CLOSE:
                        self._end(channel, msg.data)
                        return True
                    if msg.type is WSMsgType.CLOSED:
                        raise EofStream()
        except asyncio.CancelledError:
            self._end(channel, WSCloseCode.ABNORMAL_CLOSURE)
            raise
        except Exception as exc:
            self._exception = exc
            self._end(channel, WSCloseCode.ABNORMAL_CLOSURE)
            return True

    # -- receiving ----------------------------------------------------------------------------
    async def receive(self, timeout: float | None = None, *, _iterating: bool = False) -> WSMessage:
        """The next data message; answers PING, absorbs PONG and completes the closing
        handshake on the way (with ``autoping``/``autoclose``). Only one task may wait."""
        # _iterating: called for ``async for`` (see __anext__), which ends at CLOSE,
        # CLOSING or CLOSED: raise StopAsyncIteration instead of returning those.
        channel = self._channel
        if channel is None:
            raise RuntimeError("Call .prepare() first")
        limit = timeout or self._receive_timeout
        while True:
            if self._waiting:
                raise RuntimeError("Concurrent call to receive() is not allowed")
            if self._closed or self._closing:
                return self._after_close(_iterating)
            # The read is written out here, not awaited as a helper coroutine: this runs
            # once per message received.
            self._waiting = True
            failure: Exception | None = None
            try:
                if limit:
                    async with asyncio.timeout(limit):
                        msg = await channel.receive()
                else:
                    msg = await channel.receive()
            except Exception as exc:
                msg, failure = _CLOSED_MESSAGE, exc
            finally:
                self._waiting = False
                waiter = self._close_wait
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)  # a close() waiting for this read may go on
            injected = self._injected
            if injected is not None:
                # What close() or the heartbeat decided while we waited comes first.
                self._injected = None
                msg = injected
            elif failure is not None:
                if isinstance(failure, TimeoutError):
                    raise failure  # the caller's timeout: the connection stays up
                return await self._receive_failed(failure)
            kind = msg.type
            if kind is _TEXT or kind is _BINARY:
                return msg
            if await self._consumed(channel, msg):
                continue
            if _iterating and kind in _END_TYPES:
                raise StopAsyncIteration
            return msg

    def _after_close(self, iterating: bool) -> WSMessage:
        """What receive() gives once closed (CLOSED, then an error after a few calls) or
        closing (CLOSING); for ``async for``, the end of the iteration."""
        if self._closed:
            self._conn_lost += 1
            if self._conn_lost >= _CLOSED_RECEIVES_BEFORE_ERROR:
                raise RuntimeError("WebSocket connection is closed.")
        if iterating:
            raise StopAsyncIteration
        return _CLOSED_MESSAGE if self._closed else _CLOSING_MESSAGE

    async def _receive_failed(self, exc: Exception) -> WSMessage:
        """Fail the connection after receive() met ``exc``; the ERROR message to return."""
        if isinstance(exc, WebSocketError):
            # The channel answered nothing yet: fail the connection with the code.
            self._close_code = exc.code
            await self.close(code=exc.code)
        else:
            self._exception = exc
            self._set_closing(WSCloseCode.ABNORMAL_CLOSURE)
            await self.close()
        return WSMessage(WSMsgType.ERROR, exc, None)

    async def _consumed(self, channel: WebSocketChannel, msg: WSMessage) -> bool:
        """Act on a control message or state change; True when receive() keeps waiting."""
        kind = msg.type
        if kind is WSMsgType.PING and self._autoping:
            try:
                await self.pong(msg.data)
            except ConnectionError:
                pass  # the peer is gone: the next receive() reports it
            return True
        if kind is WSMsgType.PONG and self._autoping:
            return True
        if kind is WSMsgType.CLOSE:
            self._set_closing(msg.data)
            if not self._closed and self._autoclose:
                # The peer is about to drop the connection: do not wait to drain.
                await self.close(drain=False)
        elif kind is WSMsgType.CLOSING:
            self._set_closing(WSCloseCode.OK)
        elif kind is WSMsgType.CLOSED and not self._closed:
            # Gone without a close frame (RFC 6455 §7.1.5: code 1006).
            self._set_closed()
            self._exception = ConnectionResetError("Connection lost")
            self._end(channel, WSCloseCode.ABNORMAL_CLOSURE)
        return False

    @overload
    async def receive_str(
        self: WebSocketResponse[Literal[True]], *, timeout: float | None = None
    ) -> str: ...

    @overload
    async def receive_str(
        self: WebSocketResponse[Literal[False]], *, timeout: float | None = None
    ) -> bytes: ...

    @overload
    async def receive_str(
        self: WebSocketResponse[bool], *, timeout: float | None = None
    ) -> str | bytes: ...

    async def receive_str(self, *, timeout: float | None = None) -> str | bytes:
        """The next message, which must be TEXT: a ``str``, or UTF-8 ``bytes`` when the
        response was made with ``decode_text=False``."""
        msg = await self.receive(timeout)
        if msg.type is not WSMsgType.TEXT:
            raise WSMessageTypeError(f"Received {msg.type!r} message {msg.data!r}, not TEXT")
        data: str | bytes = msg.data
        return data

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        """The next message, which must be BINARY."""
        msg = await self.receive(timeout)
        if msg.type is not WSMsgType.BINARY:
            raise WSMessageTypeError(f"Received {msg.type!r} message {msg.data!r}, not BINARY")
        return bytes(msg.data)

    async def receive_json(
        self, *, loads: Callable[[Any], Any] = json.loads, timeout: float | None = None
    ) -> Any:
        """The next TEXT message parsed by ``loads`` (given bytes with ``decode_text=False``)."""
        return loads(await self.receive_str(timeout=timeout))

    def __aiter__(self) -> AsyncIterator[WSMessage]:
        return self

    def __anext__(self) -> Coroutine[Any, Any, WSMessage]:
        if type(self).receive is _RECEIVE:
            # receive() itself ends the iteration: one coroutine per message, not two.
            return self.receive(_iterating=True)
        return self._anext_via_receive()  # a subclass's receive() must see every call

    async def _anext_via_receive(self) -> WSMessage:
        msg = await self.receive()
        if msg.type in _END_TYPES:
            raise StopAsyncIteration
        return msg

    # -- heartbeat ----------------------------------------------------------------------------
    def _start_heartbeat(self, channel: WebSocketChannel) -> None:
        if self._heartbeat is None or channel.server_managed:
            return  # under ASGI, the server's own ping settings apply
        assert self._loop is not None
        self._heartbeat_timer = Heartbeat(
            self._loop, channel, self._heartbeat, lambda exc: self._abort(channel, exc)
        )

    def _abort(self, channel: WebSocketChannel, exc: BaseException) -> None:
        """Drop the connection without a close frame: the peer stopped answering."""
        if self._closed:
            return
        self._set_closed()
        self._exception = exc
        if self._waiting and not self._closing:
            self._injected = WSMessage(WSMsgType.ERROR, exc, None)
            channel.interrupt()
        self._end(channel, WSCloseCode.ABNORMAL_CLOSURE)

    def _cancel_heartbeat(self) -> None:
        timer = self._heartbeat_timer
        if timer is not None:
            self._heartbeat_timer = None
            timer.cancel()


def _as_bytes(message: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(message, str):
        return message.encode("utf-8")
    return bytes(message)


_RECEIVE: Final = WebSocketResponse.receive
