"""The public WebSocket types, as in aiohttp: message kinds, close codes, messages, errors;
and the rules for what a server may send (:func:`check_frame`, :func:`check_close`).

Transport-agnostic: the core uses them on the ASGI path and on the native server alike,
and the native frame codec takes its limits from here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import IntEnum
from typing import Any, Final, NamedTuple

__all__ = [
    "MAX_CONTROL_PAYLOAD",
    "SENDABLE_OPCODES",
    "WSCloseCode",
    "WSMessage",
    "WSMsgType",
    "WebSocketError",
    "check_close",
    "check_frame",
]


class WSCloseCode(IntEnum):
    """Close status codes (RFC 6455 §7.4.1, IANA registry for 1012-1014)."""

    OK = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    # Never sent in a close frame (RFC 6455 §7.4.1): reported when the TCP connection
    # dropped without a closing handshake.
    ABNORMAL_CLOSURE = 1006
    INVALID_TEXT = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014


class WSMsgType(IntEnum):
    """The kind of a :class:`WSMessage`: an RFC 6455 opcode or one of aiohttp's states."""

    # Opcodes, RFC 6455 §5.2.
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    PING = 0x9
    PONG = 0xA
    CLOSE = 0x8

    # aiohttp's own: never on the wire.
    CLOSING = 0x100
    CLOSED = 0x101
    ERROR = 0x102

    # aiohttp's lower-case aliases.
    continuation = CONTINUATION
    text = TEXT
    binary = BINARY
    ping = PING
    pong = PONG
    close = CLOSE
    closing = CLOSING
    closed = CLOSED
    error = ERROR


class WSMessage(NamedTuple):
    """A received message: ``data`` is ``str`` for TEXT, ``bytes`` for BINARY, PING and PONG,
    the close code for CLOSE (with the reason in ``extra``), the exception for ERROR."""

    type: WSMsgType
    data: Any
    extra: str | None

    def json(self, *, loads: Callable[[Any], Any] = json.loads) -> Any:
        """``data`` parsed as JSON."""
        return loads(self.data)


class WebSocketError(Exception):
    """A WebSocket protocol error; ``code`` is the close code to answer it with."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(code, message)

    def __str__(self) -> str:
        return str(self.args[1])


#: RFC 6455 §5.5: the most a control frame (CLOSE, PING, PONG) may carry.
MAX_CONTROL_PAYLOAD: Final = 125
#: The opcodes a server may send (RFC 6455 §5.2): whole messages and control frames.
SENDABLE_OPCODES: Final = frozenset(
    {WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CLOSE, WSMsgType.PING, WSMsgType.PONG}
)

# Set in the opcodes of control frames (RFC 6455 §5.5); a plain int: looking up an Enum
# member on its class is slow, and check_frame() runs for every frame framed alone.
_CONTROL: Final = 0x8


def check_frame(opcode: int, size: int) -> None:
    """Raise :class:`ValueError` unless a frame of type ``opcode`` with a payload of
    ``size`` bytes may be sent (aiohttp's ``send_frame``)."""
    if opcode not in SENDABLE_OPCODES:
        raise ValueError(f"Cannot send a frame with opcode {opcode!r}")
    if opcode & _CONTROL and size > MAX_CONTROL_PAYLOAD:
        raise ValueError(f"Control frame payload longer than {MAX_CONTROL_PAYLOAD} bytes")


def check_close(code: int | None, reason: bytes) -> None:
    """Raise :class:`ValueError` unless a close frame can carry ``code`` and ``reason``;
    ``code`` 0 or ``None`` is a close frame without a status (RFC 6455 §5.5.1)."""
    if not code:
        if reason:
            raise ValueError("A close reason needs a close code")
    elif not 0 < code <= 0xFFFF:
        # Any code that fits is sent, as aiohttp does, even one RFC 6455 §7.4 reserves
        # (aiohttp's background_tasks example closes with 999): the peer judges it.
        raise ValueError(f"Close code {code} does not fit in a close frame")
    elif len(reason) > MAX_CONTROL_PAYLOAD - 2:
        raise ValueError(f"Close reason longer than {MAX_CONTROL_PAYLOAD - 2} bytes")
