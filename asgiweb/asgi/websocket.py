"""The ASGI ``websocket`` scope: the handshake's answer through a sink, messages through
a channel. The ASGI server owns the wire: framing, pings, compression, frame limits."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from multidict import CIMultiDict

from ..streams import copy_file
from ..transport import HeldHeadSink
from ..ws_types import WebSocketError, WSCloseCode, WSMessage, WSMsgType

if TYPE_CHECKING:
    from asgiref.typing import ASGIReceiveCallable, ASGISendCallable

    from ..http.ws_handshake import DeflateParams

__all__ = ["ASGIWebSocketChannel", "ASGIWebSocketSink"]

# Headers of a 101 the server writes itself (or that mean nothing on a 101); the
# subprotocol travels as websocket.accept's "subprotocol".
_SERVER_OWNED: Final = frozenset(
    {"upgrade", "connection", "sec-websocket-accept", "sec-websocket-extensions",
     "sec-websocket-protocol", "content-type", "content-length", "transfer-encoding",
     "date", "server"}
)  # fmt: skip
_CLOSED: Final = WSMessage(WSMsgType.CLOSED, None, None)
# Read once per message: an enum member lookup costs as much as the rest of a comparison,
# and WSMessage's NamedTuple __new__ is a Python function that tuple.__new__ skips.
_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_tuple_new: Final = tuple.__new__
# RFC 6455 §7.1.5: the code for a connection that ended without a close frame.
_ABNORMAL: Final = 1006


def _encode(headers: CIMultiDict[str], skip: frozenset[str]) -> list[tuple[bytes, bytes]]:
    return [
        (name.encode("latin-1").lower(), value.encode("utf-8", "surrogateescape"))
        for name, value in headers.items()
        if name.lower() not in skip
    ]


class ASGIWebSocketSink(HeldHeadSink[dict[str, Any]]):
    """Answers a ``websocket`` scope. A ``101`` head becomes ``websocket.accept``; any
    other response goes out through the ``websocket.http.response`` extension when the
    server offers it, else as ``websocket.close`` (which the server turns into a 403).
    The held head is that first message."""

    adds_default_headers = True
    detects_disconnect = False
    __slots__ = ("_scope", "_receive", "_send", "_http_response", "_denied", "_done",
                 "aborted")  # fmt: skip

    def __init__(self, scope: Any, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        super().__init__()
        self._scope = scope
        self._receive = receive
        self._send = send
        self._http_response = "websocket.http.response" in (scope.get("extensions") or {})
        self._denied = False
        self._done = False
        self.aborted = False

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
        if status == 101:
            self._held = {
                "type": "websocket.accept",
                "subprotocol": headers.get("Sec-WebSocket-Protocol"),
                "headers": _encode(headers, _SERVER_OWNED),
            }
            return
        if not self._http_response:
            self._denied = True  # the body has nowhere to go
            return
        self._held = {
            "type": "websocket.http.response.start",
            "status": status,
            "headers": _encode(headers, frozenset({"transfer-encoding"})),
        }

    def _send_head(self, head: dict[str, Any]) -> Awaitable[None]:
        return self._send(head)  # type: ignore[arg-type]

    async def write(self, data: bytes) -> None:
        if self._denied:
            return
        await self.flush()
        await self._send({"type": "websocket.http.response.body", "body": data, "more_body": True})

    async def write_eof(self, data: bytes = b"") -> None:
        if self._done:
            return
        self._done = True
        if self._denied:
            await self._send({"type": "websocket.close", "code": 1000, "reason": ""})
            return
        await self.flush()
        await self._send({"type": "websocket.http.response.body", "body": data, "more_body": False})

    async def sendfile(self, file: BinaryIO, offset: int, count: int, chunk_size: int) -> None:
        await copy_file(file, offset, count, chunk_size, self.write)

    async def send_continue(self) -> None:
        return None

    def abort(self) -> None:
        self.aborted = True

    def websocket(
        self, *, deflate: DeflateParams | None, max_msg_size: int, writer_limit: int
    ) -> ASGIWebSocketChannel:
        """The channel; deflate and frame limits are the server's business here, the
        message limit ``max_msg_size`` (0: none) is also checked by the channel."""
        return ASGIWebSocketChannel(self._scope, self._receive, self._send, max_msg_size)


class ASGIWebSocketChannel:
    """Messages as ``websocket.receive``/``websocket.send``/``websocket.close``; implements
    :class:`~asgiweb.transport.WebSocketChannel`."""

    server_managed = True
    compress = 0  # the server may compress; the application cannot tell
    last_activity = 0.0
    track_activity = False
    __slots__ = ("_scope", "_receive", "_send", "_max_msg_size", "_error", "_ended",
                 "_close_sent", "decode_text")  # fmt: skip

    def __init__(
        self,
        scope: Any,
        receive: ASGIReceiveCallable,
        send: ASGISendCallable,
        max_msg_size: int = 0,
    ) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        # The WebSocketResponse's limit. The server has assembled the whole message
        # before we see it, under its own limit, which applies first (uvicorn's
        # ws_max_size and hypercorn's websocket_max_message_size: 16 MiB by default);
        # ours then refuses what is over it, as the native path does (close 1009).
        self._max_msg_size = max_msg_size
        self._error: WebSocketError | None = None
        self._ended = False
        self._close_sent = False
        #: False: TEXT messages arrive as their UTF-8 bytes (``decode_text=False``).
        self.decode_text = True

    async def receive(self) -> WSMessage:
        if self._error is not None:
            raise self._error
        if self._ended:
            return _CLOSED  # the server has nothing more to give after websocket.disconnect
        message: Any = await self._receive()
        kind = message["type"]
        if kind == "websocket.receive":
            limit = self._max_msg_size
            text = message.get("text")
            if text is not None:
                # A character is 1 to 4 bytes in UTF-8: encode only near the limit.
                if limit and len(text) * 4 > limit and len(text.encode("utf-8")) > limit:
                    raise self._too_big(limit)
                # The server has decoded (and so checked) the text already.
                data = text if self.decode_text else text.encode("utf-8")
                return _tuple_new(WSMessage, (_TEXT, data, ""))
            data = message.get("bytes") or b""
            if limit and len(data) > limit:
                raise self._too_big(limit)
            return _tuple_new(WSMessage, (_BINARY, data, ""))
        if kind == "websocket.disconnect":
            self._ended = True
            code = message.get("code", 1005)
            if code == _ABNORMAL:
                return _CLOSED
            return WSMessage(WSMsgType.CLOSE, code, message.get("reason") or "")
        raise RuntimeError(
            f"Expected ASGI message 'websocket.receive' or 'websocket.disconnect', but got {kind!r}"
        )

    def _too_big(self, limit: int) -> WebSocketError:
        # WebSocketResponse answers it with close(1009) and hands the handler an ERROR.
        error = self._error = WebSocketError(
            WSCloseCode.MESSAGE_TOO_BIG, f"Message size exceeds the limit of {limit} bytes"
        )
        return error

    def interrupt(self) -> None:
        # Nothing to do: once websocket.close is sent, the server answers a pending
        # receive with websocket.disconnect.
        return None

    async def send(self, data: bytes | str, opcode: int, compress: int | None = None) -> None:
        if self._ended or self._close_sent:
            raise ConnectionResetError("Cannot write to a closing WebSocket")
        message: dict[str, Any]
        if opcode == _TEXT:
            text = data if isinstance(data, str) else data.decode("utf-8")
            message = {"type": "websocket.send", "text": text}
        elif opcode == _BINARY:
            raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            message = {"type": "websocket.send", "bytes": raw}
        else:
            if opcode == WSMsgType.CLOSE:
                raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
                code = int.from_bytes(raw[:2], "big") if len(raw) >= 2 else 1000
                await self.close(code, raw[2:])
            return  # PING and PONG: the ASGI server pings and answers pings itself.
        try:
            await self._send(message)  # type: ignore[arg-type]
        except OSError as exc:
            raise self._lost() from exc

    async def close(self, code: int, reason: bytes, *, drain: bool = True) -> None:
        if self._ended or self._close_sent:
            return
        self._close_sent = True
        text = reason.decode("utf-8", "replace")
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": text})
        except OSError as exc:
            raise self._lost() from exc

    def _lost(self) -> ConnectionResetError:
        # The server could not send (uvicorn's ClientDisconnected, for one): the peer is gone.
        self._ended = True
        return ConnectionResetError("Cannot write to a closed WebSocket")

    def disconnect(self) -> None:
        # The server ends the connection once websocket.close is sent or the app returns.
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        key = {"peername": "client", "sockname": "server"}.get(name)
        value = self._scope.get(key) if key is not None else None
        return tuple(value) if value else default
