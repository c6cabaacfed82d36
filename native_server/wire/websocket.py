"""WebSocket framing (RFC 6455 §5) and permessage-deflate (RFC 7692), server side, sans-IO.

:class:`FrameReader` turns bytes from a client into :class:`~asgiweb.ws_types.WSMessage`
objects, refusing what breaks the protocol; :class:`FrameWriter` turns the server's
messages into frames. What the server may send is ruled in :mod:`asgiweb.ws_types`,
which ``WebSocketResponse`` applies on every transport. No sockets here.
"""

from __future__ import annotations

import codecs
import functools
import struct
import zlib
from collections.abc import Callable
from typing import Final

from asgiweb.http.ws_handshake import DeflateParams
from asgiweb.ws_types import (
    MAX_CONTROL_PAYLOAD,
    SENDABLE_OPCODES,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMsgType,
    check_close,
    check_frame,
)

from .accel import speedups

__all__ = [
    "DEFAULT_MAX_FRAGMENTS",
    "DEFAULT_MAX_MSG_SIZE",
    "FrameReader",
    "FrameWriter",
    "WebSocketProtocolError",
    "apply_mask",
    "build_frame",
    "close_payload",
    "is_valid_close_code",
    "plain_frame",
]

#: aiohttp's default ``max_msg_size``.
DEFAULT_MAX_MSG_SIZE: Final = 4 * 1024 * 1024
#: No bound on the number of fragments by default: ``max_msg_size`` bounds a message,
#: however it is cut up, and fragments are gathered in one buffer, so many small ones
#: cost no more memory than a few big ones.
DEFAULT_MAX_FRAGMENTS: Final = 0

_FIN: Final = 0x80
_RSV1: Final = 0x40  # "Per-Message Compressed" under permessage-deflate (RFC 7692 §6)
_RSV2_RSV3: Final = 0x30
_MASKED: Final = 0x80
_CONTROL: Final = 0x8
_CONTINUATION: Final = 0x0
_TEXT: Final = 0x1
_PING: Final = 0x9
_PONG: Final = 0xA
# RFC 7692 §7.2.1: a sender strips this from the end of each compressed message.
_DEFLATE_TAIL: Final = b"\x00\x00\xff\xff"
_AFTER_FINAL_BLOCK: Final = (_DEFLATE_TAIL, b"\x00" + _DEFLATE_TAIL)
# Below this size one big-int XOR beats four bytes.translate() passes (measured).
_SMALL_PAYLOAD: Final = 512
# First bytes of a final, uncompressed TEXT or BINARY frame: FIN set, no RSV bits.
_PLAIN_FINAL_DATA: Final = frozenset({_FIN | 0x1, _FIN | 0x2})
# WSMessage is a NamedTuple: building it through tuple.__new__ skips its Python __new__.
_new_message: Final = functools.partial(tuple.__new__, WSMessage)
_tuple_new: Final = tuple.__new__
# Enum members are looked up once: attribute access on an Enum class is not free.
_TEXT_MESSAGE: Final = WSMsgType.TEXT
_BINARY_MESSAGE: Final = WSMsgType.BINARY

_pack_16: Final = struct.Struct("!BBH").pack
_pack_64: Final = struct.Struct("!BBQ").pack
_pack_code: Final = struct.Struct("!H").pack


def _head(first: int, size: int, masked: int = 0) -> bytes:
    """A frame's first byte and payload length (RFC 6455 §5.2), ``masked`` or 0 for the bit."""
    if size < 126:
        return bytes((first, size | masked))
    if size < 65536:
        return _pack_16(first, 126 | masked, size)
    return _pack_64(first, 127 | masked, size)


# Every frame the server sends without compressing it, with a payload below 126 bytes,
# has one of these heads (FIN set, no RSV bit): built once, by opcode then payload size.
_SMALL_HEADS: Final = {
    int(op): [_head(_FIN | op, n) for n in range(126)] for op in SENDABLE_OPCODES
}


class WebSocketProtocolError(WebSocketError):
    """The client broke RFC 6455 or RFC 7692: send a close frame with ``code``, then drop
    the connection (RFC 6455 §7.1.7). ``messages`` are the complete messages that
    preceded the fault in the same :meth:`FrameReader.feed` call."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.messages: list[WSMessage] = []


def _fail(reason: str) -> WebSocketProtocolError:
    return WebSocketProtocolError(WSCloseCode.PROTOCOL_ERROR, reason)


def _too_big(limit: int) -> WebSocketProtocolError:
    return WebSocketProtocolError(
        WSCloseCode.MESSAGE_TOO_BIG, f"Message size exceeds the limit of {limit} bytes"
    )


def is_valid_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame (RFC 6455 §7.4; 1012-1014 from IANA)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


@functools.cache
def _xor_table(key: int) -> bytes:
    return bytes(i ^ key for i in range(256))


# By payload size below 126: (the multiplier that repeats a 4-byte mask, as an integer,
# over the payload; the bits of that many bytes). Unmasking a small payload is then one
# multiplication and one XOR of big integers.
_SMALL_KEYS: Final = [
    (sum(1 << (32 * i) for i in range((size + 3) // 4)), (1 << (8 * size)) - 1)
    for size in range(126)
]


def _py_unmask(data: bytearray, mask: bytes) -> bytes:
    """``data`` XOR the repeated ``mask`` (RFC 6455 §5.3); may overwrite ``data``."""
    size = len(data)
    if size < _SMALL_PAYLOAD:
        quads, rest = divmod(size, 4)
        key = int.from_bytes(mask * quads + mask[:rest], "little")
        return (int.from_bytes(data, "little") ^ key).to_bytes(size, "little")
    # Each byte of a lane of four is XORed with the same mask byte: one C-speed
    # translate() per lane instead of a Python loop over the bytes.
    for lane in range(4):
        data[lane::4] = data[lane::4].translate(_xor_table(mask[lane]))
    return bytes(data)


def apply_mask(data: bytes, mask: bytes) -> bytes:
    """Mask or unmask ``data`` with a 4-byte ``mask`` (RFC 6455 §5.3; the same operation)."""
    if len(mask) != 4:
        raise ValueError("A WebSocket mask is 4 bytes")
    return _unmask(bytearray(data), mask)


def _py_small_frame(
    data: bytes | bytearray | memoryview, decode_text: bool, max_msg_size: int
) -> WSMessage | None:
    """The message when ``data`` is exactly one masked, final, uncompressed TEXT or BINARY
    frame with a payload under 126 bytes (within ``max_msg_size``, 0: no limit); None
    otherwise. TEXT that is not UTF-8 raises :class:`UnicodeDecodeError`."""
    size = len(data) - 6
    if size < 0 or size > 125 or data[1] != _MASKED | size:
        return None
    first = data[0]
    if first not in _PLAIN_FINAL_DATA or (max_msg_size and size > max_msg_size):
        return None
    # The whole frame as one little-endian integer: bits 16-47 are the mask, the
    # payload starts at bit 48. No slices, no copy of a view.
    repeat, bits = _SMALL_KEYS[size]
    whole = int.from_bytes(data, "little")
    key = ((whole >> 16) & 0xFFFFFFFF) * repeat
    payload = (((whole >> 48) ^ key) & bits).to_bytes(size, "little")
    if first == _FIN | _TEXT:
        text = payload.decode("utf-8")
        return _tuple_new(WSMessage, (_TEXT_MESSAGE, text if decode_text else payload, ""))
    return _tuple_new(WSMessage, (_BINARY_MESSAGE, payload, ""))


def _py_plain_frame(payload: bytes | bytearray | memoryview | str, opcode: int) -> bytes:
    """One final, unmasked, uncompressed frame of ``payload`` (``str``: its UTF-8);
    ``opcode`` must be 0..15, nothing else is checked."""
    if not 0 <= opcode <= 15:
        raise ValueError("opcode must be 0..15")
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    size = len(payload)
    if size < 126:
        heads = _SMALL_HEADS.get(opcode)
        if heads is not None:
            return heads[size] + payload  # the common reply: _head(), cached
    return _head(_FIN | opcode, size) + payload


# The compiled twins when the accelerator is in use (native_server/wire/accel.py).
_unmask: Callable[[bytearray, bytes], bytes] = _py_unmask
_small_frame: Callable[[bytes | bytearray | memoryview, bool, int], WSMessage | None] = (
    _py_small_frame
)
#: ``plain_frame(payload, opcode)``: see :func:`_py_plain_frame`.
plain_frame: Callable[[bytes | bytearray | memoryview | str, int], bytes] = _py_plain_frame
if speedups is not None:
    _unmask = speedups.unmask
    _small_frame = speedups.small_frame
    plain_frame = speedups.plain_frame


def build_frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False, mask: bytes | None = None
) -> bytes:
    """One frame (RFC 6455 §5.2). Servers never mask (§5.1); ``mask`` is for tests/clients."""
    first = opcode | (_FIN if fin else 0) | (_RSV1 if rsv1 else 0)
    if mask is None:
        return _head(first, len(payload)) + payload
    return _head(first, len(payload), _MASKED) + mask + apply_mask(payload, mask)


def close_payload(code: int | None, reason: bytes) -> bytes:
    """A close frame's payload (RFC 6455 §5.5.1), empty when ``code`` is 0 or ``None``;
    unchecked (see :func:`asgiweb.ws_types.check_close`)."""
    return _pack_code(code) + reason if code else b""


class _Inflater:
    """Inflates compressed messages (RFC 7692 §7.2.2), never beyond a given size."""

    __slots__ = ("_reset", "_zlib")

    def __init__(self, no_context_takeover: bool) -> None:
        self._reset = no_context_takeover
        # Window 15 inflates whatever window (8..15) the client compresses with.
        self._zlib = zlib.decompressobj(-15)

    def inflate(self, data: bytes, room: int | None, last: bool) -> bytes:
        """One frame's payload inflated; ``last`` ends the message. More than ``room``
        bytes out (``None``: no limit) raises the 1009 error."""
        out = self._run(data, room)
        if last:
            out += self._run(_DEFLATE_TAIL, None if room is None else room - len(out))
            if self._zlib.eof:
                # A sender may end a message with a final block and one 0x00 octet
                # (RFC 7692 §7.2.3.4); zlib leaves those and our tail unused. More than
                # that is data zlib would silently drop.
                if self._zlib.unused_data not in _AFTER_FINAL_BLOCK:
                    raise WebSocketProtocolError(
                        WSCloseCode.INVALID_TEXT, "Data after the final deflate block"
                    )
                self._zlib = zlib.decompressobj(-15)
            elif self._reset:
                self._zlib = zlib.decompressobj(-15)
        return out

    def _run(self, data: bytes, room: int | None) -> bytes:
        try:
            if room is None:
                out = self._zlib.decompress(data)
            else:
                # Bounded: zlib stops after room + 1 bytes, so a bomb costs at most that
                # much memory, and one byte more than allowed is how we know it is over.
                out = self._zlib.decompress(data, room + 1)
        except zlib.error as exc:
            raise WebSocketProtocolError(
                WSCloseCode.INVALID_TEXT, f"Invalid compressed data: {exc}"
            ) from exc
        if room is not None and len(out) > room:
            raise WebSocketProtocolError(WSCloseCode.MESSAGE_TOO_BIG, "Inflated message too big")
        return out


class FrameReader:
    """Feed it bytes from a client, get back complete messages (RFC 6455 §5, server side).

    TEXT comes back as ``str``; BINARY, PING and PONG as ``bytes``; CLOSE as its code
    (0 when the frame has none, as in aiohttp) with the reason in ``extra``. Control
    frames sent between fragments come back in wire order, before the message they
    interrupt. After a close frame the rest of the input is ignored (§5.5.1). A
    :class:`WebSocketProtocolError` leaves the reader failed: feeding it again is an error.

    ``max_msg_size`` (0: no limit) bounds a message's payload, and its inflated size when
    compressed; ``max_fragments`` (0: no limit) its number of frames; ``deflate`` holds
    the negotiated permessage-deflate parameters, if any. With ``decode_text`` false, a
    TEXT message comes back as its UTF-8 ``bytes`` (still checked to be UTF-8).
    """

    def __init__(
        self,
        *,
        max_msg_size: int = DEFAULT_MAX_MSG_SIZE,
        max_fragments: int = DEFAULT_MAX_FRAGMENTS,
        deflate: DeflateParams | None = None,
        decode_text: bool = True,
    ) -> None:
        self.decode_text = decode_text
        self._max_msg_size = max_msg_size
        self._max_fragments = max_fragments
        self._inflater = _Inflater(deflate.client_no_context_takeover) if deflate else None
        self._buffer = bytearray()
        self._failed = False
        #: A close frame has been received.
        self.closed = False
        # The fragmented message being assembled; _opcode 0 when there is none.
        self._opcode = 0
        self._compressed = False
        self._frames = 0
        self._wire_size = 0
        self._size = 0
        # The fragments so far, in one buffer: a list of many tiny parts would cost far
        # more memory than the message itself.
        self._body = bytearray()
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, data: bytes | bytearray | memoryview) -> list[WSMessage]:
        """Messages completed by ``data``; raises :class:`WebSocketProtocolError`."""
        if self._failed:
            raise RuntimeError("FrameReader already failed: the connection must be closed")
        if self.closed:
            return []
        message = self.feed_one(data)
        if message is not None:
            return [message]
        self._buffer += data
        messages: list[WSMessage] = []
        try:
            self._parse(messages)
        except WebSocketProtocolError as exc:
            self._failed = True
            self._buffer.clear()
            self._body = bytearray()
            exc.messages = messages
            raise
        return messages

    def feed_one(self, data: bytes | bytearray | memoryview) -> WSMessage | None:
        """The common read, decoded straight from ``data``: the message when ``data`` is
        exactly one whole, small, unfragmented, uncompressed data frame and nothing is
        pending. None otherwise, having consumed nothing: then :meth:`feed` it."""
        if self._buffer or self._opcode or self._failed or self.closed:
            return None
        try:
            return _small_frame(data, self.decode_text, self._max_msg_size)
        except UnicodeDecodeError as exc:
            self._failed = True
            error = _invalid_text(exc)
            error.messages = []
            raise error from exc

    def _parse(self, messages: list[WSMessage]) -> None:
        buffer = self._buffer
        pos = 0
        end = len(buffer)
        while end - pos >= 2:
            header = self._header(buffer, pos, end)
            if header is None:
                break
            first, start, size = header
            if end - start < size:
                break  # wait for the rest of the payload
            payload = _unmask(buffer[start : start + size], bytes(buffer[start - 4 : start]))
            pos = start + size
            message = self._on_frame(first, payload)
            if message is not None:
                messages.append(message)
                if self.closed:
                    buffer.clear()
                    return
        del buffer[:pos]

    def _header(self, buffer: bytearray, pos: int, end: int) -> tuple[int, int, int] | None:
        """(first byte, payload start, payload size) of the frame at ``pos``, once its
        header is complete; checked before any of its payload is buffered."""
        first = buffer[pos]
        second = buffer[pos + 1]
        if not second & _MASKED:
            raise _fail("Client frames must be masked")  # RFC 6455 §5.1
        size = second & 0x7F
        start = pos + 6  # two header bytes and the 4-byte mask
        if size == 126:
            start += 2
            if end < start:
                return None
            size = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
        elif size == 127:
            start += 8
            if end < start:
                return None
            size = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
            if size >> 63:
                raise _fail("Frame length has its most significant bit set")  # §5.2
        elif end < start:
            return None
        self._check_frame(first, size)
        return first, start, size

    def _check_frame(self, first: int, size: int) -> None:
        opcode = first & 0x0F
        if first & _RSV2_RSV3:
            raise _fail("Reserved bits RSV2/RSV3 set")  # §5.2: no extension defines them
        if opcode & _CONTROL:
            self._check_control(first, opcode, size)
            return
        if opcode > 2:
            raise _fail(f"Reserved opcode {opcode}")  # §5.2
        if opcode == _CONTINUATION:
            if not self._opcode:
                raise _fail("Continuation frame without a message to continue")  # §5.4
            if first & _RSV1:  # RFC 7692 §6.1: only the first frame carries the bit
                raise _fail("RSV1 set on a continuation frame")
            if self._max_fragments and self._frames >= self._max_fragments:
                raise WebSocketProtocolError(
                    WSCloseCode.MESSAGE_TOO_BIG,
                    f"Message has more than {self._max_fragments} fragments",
                )
            compressed, wire_size = self._compressed, self._wire_size
        else:
            if self._opcode:
                raise _fail("New data frame inside a fragmented message")  # §5.4
            compressed, wire_size = bool(first & _RSV1), 0
            if compressed and self._inflater is None:
                raise _fail("RSV1 set without permessage-deflate")  # §5.2
        limit = self._max_msg_size
        # Compressed data may be a little larger than its plain text; deflate's worst
        # case is 5 bytes per 64 KiB stored block, so 1/4096 more is ample. Its inflated
        # size is checked as it is inflated.
        if limit and wire_size + size > (limit + (limit >> 12) + 64 if compressed else limit):
            raise _too_big(limit)

    @staticmethod
    def _check_control(first: int, opcode: int, size: int) -> None:
        if opcode > _PONG:
            raise _fail(f"Reserved opcode {opcode}")  # §5.2
        if not first & _FIN:
            raise _fail("Fragmented control frame")  # §5.5
        if size > MAX_CONTROL_PAYLOAD:
            raise _fail(f"Control frame payload longer than {MAX_CONTROL_PAYLOAD} bytes")  # §5.5
        if first & _RSV1:
            raise _fail("RSV1 set on a control frame")  # RFC 7692 §6.1

    def _on_frame(self, first: int, payload: bytes) -> WSMessage | None:
        opcode = first & 0x0F
        if opcode & _CONTROL:
            return self._on_control(opcode, payload)
        if opcode:
            if first & _FIN and not first & _RSV1:
                # The common case: one plain frame.
                return _whole_message(opcode, payload, self.decode_text)
            self._begin(opcode, bool(first & _RSV1))
        return self._on_fragment(bool(first & _FIN), payload)

    def _begin(self, opcode: int, compressed: bool) -> None:
        self._opcode = opcode
        self._compressed = compressed
        self._frames = 0
        self._wire_size = 0
        self._size = 0
        self._decoder.reset()

    def _on_fragment(self, fin: bool, payload: bytes) -> WSMessage | None:
        self._frames += 1
        self._wire_size += len(payload)
        data = payload
        if self._compressed:
            assert self._inflater is not None  # _check_frame refused RSV1 without it
            limit = self._max_msg_size
            data = self._inflater.inflate(payload, limit - self._size if limit else None, fin)
        self._size += len(data)
        text = self._opcode == _TEXT
        if text:
            try:
                # Checked as it comes: an invalid sequence fails in the fragment that
                # holds it, even one split across fragments (Autobahn 6.4 "fail fast").
                self._decoder.decode(data, fin)
            except UnicodeDecodeError as exc:
                raise _invalid_text(exc) from exc
        self._body += data
        if not fin:
            return None
        self._opcode = 0
        body = bytes(self._body)
        self._body = bytearray()
        if text:
            # Valid: the incremental check passed. Decoded whole, once, here.
            return WSMessage(WSMsgType.TEXT, body.decode("utf-8") if self.decode_text else body, "")
        return WSMessage(WSMsgType.BINARY, body, "")

    def _on_control(self, opcode: int, payload: bytes) -> WSMessage:
        if opcode == _PING:
            return WSMessage(WSMsgType.PING, payload, "")
        if opcode == _PONG:
            return WSMessage(WSMsgType.PONG, payload, "")
        message = _close_message(payload)
        self.closed = True
        return message


def _invalid_text(exc: UnicodeDecodeError) -> WebSocketProtocolError:
    return WebSocketProtocolError(WSCloseCode.INVALID_TEXT, f"Invalid UTF-8 text: {exc.reason}")


def _whole_message(opcode: int, payload: bytes, decode_text: bool) -> WSMessage:
    if opcode == _TEXT:
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _invalid_text(exc) from exc
        return WSMessage(WSMsgType.TEXT, text if decode_text else payload, "")
    return WSMessage(WSMsgType.BINARY, payload, "")


def _close_message(payload: bytes) -> WSMessage:
    """A close frame's code and reason (RFC 6455 §5.5.1), checked."""
    if not payload:
        return WSMessage(WSMsgType.CLOSE, 0, "")
    if len(payload) == 1:
        raise _fail("Close frame payload of 1 byte")  # a code is 2 bytes
    code = int.from_bytes(payload[:2], "big")
    if not is_valid_close_code(code):
        raise _fail(f"Invalid close code: {code}")  # §7.4; aiohttp's words
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid_text(exc) from exc
    return WSMessage(WSMsgType.CLOSE, code, reason)


class _Deflater:
    """Compresses messages (RFC 7692 §7.2.1) with the negotiated window and takeover."""

    __slots__ = ("_bits", "_level", "_reset", "_zlib")

    def __init__(self, params: DeflateParams, level: int) -> None:
        self._bits = params.server_max_window_bits
        self._reset = params.server_no_context_takeover
        self._level = level
        self._zlib: zlib._Compress | None = None

    def _new(self, bits: int) -> zlib._Compress:
        return zlib.compressobj(self._level, zlib.DEFLATED, -bits)

    def compress(self, data: bytes, bits: int | None) -> bytes:
        """``data`` compressed; ``bits`` (aiohttp's per-message ``compress``) asks for a
        fresh context with that window, capped by the negotiated one."""
        if bits:
            if not 9 <= bits <= 15:
                raise ValueError(f"compress must be window bits 9..15, not {bits}")
            compressor = self._new(min(bits, self._bits))
            # The client's window now holds this message, which our shared context never
            # saw: restart that context so it cannot refer back past this message.
            self._zlib = None
        else:
            compressor = self._zlib or self._new(self._bits)
            self._zlib = None if self._reset else compressor
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        # A sync flush always ends with an empty stored block, 0x00 0x00 0xff 0xff, which
        # §7.2.1 has us drop; §7.2.3.6: an empty message is sent as a single 0x00 byte.
        return out[:-4] or b"\x00"


class FrameWriter:
    """Builds server frames: never masked (RFC 6455 §5.1); data messages are compressed
    when permessage-deflate was negotiated (``deflate``), control frames never are.

    :meth:`encode` frames what it is given, for a caller that has applied the rules of
    :mod:`asgiweb.ws_types` (as ``WebSocketResponse`` does); the other methods apply
    them first and raise :class:`ValueError` for what may not be sent.
    """

    __slots__ = ("_deflater",)

    def __init__(
        self, *, deflate: DeflateParams | None = None, level: int = zlib.Z_BEST_SPEED
    ) -> None:
        self._deflater = _Deflater(deflate, level) if deflate is not None else None

    def encode(self, payload: bytes, opcode: int, compress: int | None = None) -> bytes:
        """One whole message or control frame of ``payload``, unchecked. ``compress``
        overrides the window bits for this message; it is ignored without deflate."""
        deflater = self._deflater
        if deflater is None or opcode & _CONTROL:
            return plain_frame(payload, opcode)
        return build_frame(opcode, deflater.compress(payload, compress), rsv1=True)

    def frame(self, payload: bytes, opcode: int, compress: int | None = None) -> bytes:
        """:meth:`encode`, checked as aiohttp's ``send_frame``."""
        check_frame(opcode, len(payload))
        return self.encode(payload, opcode, compress)

    def text(self, data: str, *, compress: int | None = None) -> bytes:
        """A TEXT message."""
        return self.frame(data.encode("utf-8"), WSMsgType.TEXT, compress=compress)

    def binary(self, data: bytes, *, compress: int | None = None) -> bytes:
        """A BINARY message."""
        return self.frame(data, WSMsgType.BINARY, compress=compress)

    def ping(self, payload: bytes = b"") -> bytes:
        """A PING frame; ``payload`` up to 125 bytes."""
        return self.frame(payload, WSMsgType.PING)

    def pong(self, payload: bytes = b"") -> bytes:
        """A PONG frame; ``payload`` up to 125 bytes."""
        return self.frame(payload, WSMsgType.PONG)

    def close(self, code: int | None = WSCloseCode.OK, reason: str | bytes = b"") -> bytes:
        """A CLOSE frame; ``code`` ``None`` or 0 sends one without a status (§5.5.1)."""
        if isinstance(reason, str):
            reason = reason.encode("utf-8")
        check_close(code, reason)
        return self.encode(close_payload(code, reason), WSMsgType.CLOSE)
