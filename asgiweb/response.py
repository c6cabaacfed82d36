"""StreamResponse, Response and json_response: the meaning of a response, not its framing.

What the head says and the rules that complete it live in :mod:`asgiweb.response_head`,
compression in :mod:`asgiweb.compression`, bodies streamed from files, async iterables
or multipart parts in :mod:`asgiweb.body_sources`; here is the order of sending.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, Final, TypeVar, overload

from multidict import CIMultiDict

from . import hdrs
from .body_sources import STREAM_CHUNK_SIZE as STREAM_CHUNK_SIZE
from .body_sources import remaining_size, send_stream_body, stream_source
from .compression import MAX_SYNC_CHUNK_SIZE as MAX_SYNC_CHUNK_SIZE
from .compression import ContentCoding, ResponseCompression
from .helpers import HttpVersion11, dumps_json
from .http.response_headers import TEXT_TYPES, content_headers, text_type
from .http.response_headers import check_headers as check_headers
from .keys import ResponseKey
from .response_head import BODILESS, ResponseHead, add_server_headers, getversion
from .response_head import SERVER_SOFTWARE as SERVER_SOFTWARE
from .response_head import SentHeaders as SentHeaders

if TYPE_CHECKING:
    from .request import BaseRequest
    from .transport import ResponseSink

__all__ = [
    "ContentCoding",
    "JSONBytesEncoder",
    "JSONEncoder",
    "StreamResponse",
    "Response",
    "json_bytes_response",
    "json_response",
]

JSONEncoder = Callable[[Any], str]
JSONBytesEncoder = Callable[[Any], bytes]

_T = TypeVar("_T")


class _OrderError(RuntimeError, AssertionError):
    """``write_eof()`` or ``drain()`` called before ``prepare()`` (or after the end).

    Also an AssertionError: aiohttp checks exactly these with ``assert``, so code ported
    from it may catch that; elsewhere a call out of order is a plain RuntimeError.
    """


class _ArgumentTypeError(TypeError, AssertionError):
    """``Response.text`` given something other than str: also an AssertionError, as
    aiohttp asserts it."""


class StreamResponse(ResponseHead, ResponseCompression, MutableMapping[str, Any]):
    """A response whose body is written piece by piece after :meth:`prepare`."""

    _length_check = True
    # Response sends its head together with its body; a StreamResponse flushes the head
    # at prepare() so a streaming client (SSE, long poll) sees it at once.
    _flush_head = True

    # Per-instance state that starts at these class-level defaults: a response built on
    # the hot path assigns only what it changes.
    _state: dict[Any, Any] | None = None
    _req: BaseRequest | None = None
    _sink: ResponseSink | None = None
    _eof_sent = False
    _body_length = 0
    _task: Any = None
    _stream_body: Any = None
    # The multidict version at which the headers held exactly the Content-Type that
    # Response's constructor set: while it still matches, the head is known in advance.
    _plain = -1
    _length_left: int | None = None  # body bytes Content-Length still promises

    def __init__(
        self,
        *,
        status: int = 200,
        reason: str | None = None,
        headers: Any = None,
    ) -> None:
        if headers is None:
            self._headers: CIMultiDict[str] = CIMultiDict()
            self._trusted = getversion(self._headers)
        else:
            self._headers = CIMultiDict(headers)
        self._init_status(status, reason)

    # -- the exchange -------------------------------------------------------------------
    @property
    def task(self) -> Any:
        """The task serving this request, when known."""
        if self._req is not None:
            return self._req.task
        return self._task

    @property
    def body_length(self) -> int:
        """Bytes sent for this response. As aiohttp, the head and chunk framing count too
        where we write them (the native server); under ASGI the server does: body only."""
        framing: int = getattr(self._sink, "framing", 0)
        return self._body_length + framing

    # -- sending ------------------------------------------------------------------------
    @property
    def _payload_writer(self) -> ResponseSink | None:
        # aiohttp's name for where the body goes: aiohttp-sse returns it from prepare().
        return self._sink

    async def prepare(self, request: BaseRequest) -> ResponseSink | None:
        """Send the head (firing ``on_response_prepare`` first). Idempotent."""
        if self._eof_sent:
            return None
        if self._sink is not None:
            return self._sink
        method = request.method
        status = self._status
        self._must_be_empty_body = method == hdrs.METH_HEAD or status in BODILESS
        return await self._start(request)

    async def _start(self, request: BaseRequest) -> ResponseSink:
        self._req = request
        sink = request._sink
        self._before_head()
        if request._prepare_hooks:
            if not sink.adds_default_headers:
                # on_response_prepare sees them, as in aiohttp (aiohttp-cors exposes them).
                add_server_headers(self._headers)
            await request._prepare_hook(self)
        if self._compression:
            await self._start_compression(request)
        self._commit_head(request, sink)
        if self._flush_head:
            await sink.flush()
        return sink

    def _commit_head(self, request: BaseRequest, sink: ResponseSink) -> None:
        """Finalise the headers and hand the head to the sink; from here on they are sent."""
        chunked = self._prepare_headers(request, sink.adds_default_headers)
        headers = self._headers
        if not chunked and self._length_check:
            length = headers.get(hdrs.CONTENT_LENGTH)
            if length is not None:
                self._length_left = int(length)
        # Set after the hook ran: headers stay writable for on_response_prepare.
        self._sink = sink
        # Positional: this runs once per response on every path.
        sink.start(
            self._status,
            self._reason,
            headers,
            chunked,
            bool(self._keep_alive),
            not self._must_be_empty_body,
            self._flush_head,
        )

    async def _send(self, request: BaseRequest) -> None:
        """``prepare()`` then ``write_eof()``: how the server finishes a handler's response."""
        await self.prepare(request)
        await self.write_eof()

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send body bytes; waits while the client is slow to read."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be byte-ish ({type(data)!r})")
        if self._eof_sent:
            raise RuntimeError("Cannot call write() after write_eof()")
        sink = self._sink
        if sink is None:
            raise RuntimeError("Cannot call write() before prepare()")
        if self._must_be_empty_body or not data:
            return
        compressor = self._compressor
        if compressor is not None:
            data = await compressor.compress(bytes(data))
            if not data:
                return
        remaining = self._length_left
        if remaining is not None:
            # Bytes past Content-Length would be read as the start of the next response
            # on a kept-alive connection: drop them, as aiohttp does.
            if len(data) > remaining:
                data = data[:remaining]
            self._length_left = remaining - len(data)
        self._body_length += len(data)
        await sink.write(bytes(data))

    async def drain(self) -> None:
        """Deprecated, as in aiohttp: :meth:`write` already waits for a slow client."""
        if self._eof_sent:
            raise _OrderError("EOF has already been sent")
        if self._sink is None:
            raise _OrderError("Response has not been started")
        warnings.warn(
            "drain method is deprecated, use await resp.write()", DeprecationWarning, stacklevel=2
        )

    async def write_eof(self, data: bytes = b"") -> None:
        """Send the last bytes and finish the response. Idempotent."""
        if self._eof_sent:
            return
        sink = self._sink
        if sink is None:
            raise _OrderError("Response has not been started")
        if self._stream_body is not None:
            if not self._must_be_empty_body:
                await self._send_stream_body()
            elif hasattr(self._stream_body, "close"):
                self._stream_body.close()  # HEAD, 204, 304: nothing to send, still ours
                self._stream_body = None
        data = self._last_bytes(data)
        compressor = self._compressor
        if compressor is not None and not self._must_be_empty_body:
            data = await compressor.compress(data, last=True)
        remaining = self._length_left
        if remaining is not None and not self._must_be_empty_body:
            if len(data) > remaining:
                data = data[:remaining]
            if len(data) < remaining:
                # The body ends short of its Content-Length: the client would wait for
                # the rest forever, so the connection must end with it.
                self._body_length += len(data)
                self._eof_sent = True
                self._req = None
                await sink.write_eof(data)
                sink.abort()
                return
        self._body_length += len(data)
        self._eof_sent = True
        # As aiohttp: the response lets go of its request once finished (its task is
        # None from then on). A raised HTTPException that the request's match info
        # holds (404, 405) would otherwise be a reference cycle.
        self._req = None
        await sink.write_eof(data)

    async def _send_stream_body(self) -> None:
        body, self._stream_body = self._stream_body, None
        await send_stream_body(body, self.write, self.charset)

    def _before_head(self) -> None:
        """Hook: adjust headers just before ``on_response_prepare`` and the head."""

    def _last_bytes(self, data: bytes) -> bytes:
        """Hook: the bytes :meth:`write_eof` actually sends."""
        if self._must_be_empty_body:
            return b""
        return bytes(data) if data.__class__ is not bytes else data

    # -- mapping of per-response state ----------------------------------------------------
    @overload
    def __getitem__(self, key: ResponseKey[_T]) -> _T: ...
    @overload
    def __getitem__(self, key: str) -> Any: ...
    def __getitem__(self, key: str | ResponseKey[_T]) -> Any:
        if self._state is None:
            raise KeyError(key)
        return self._state[key]

    @overload
    def __setitem__(self, key: ResponseKey[_T], value: _T) -> None: ...
    @overload
    def __setitem__(self, key: str, value: Any) -> None: ...
    def __setitem__(self, key: str | ResponseKey[_T], value: Any) -> None:
        if self._state is None:
            self._state = {}
        self._state[key] = value

    def __delitem__(self, key: str | ResponseKey[Any]) -> None:
        if self._state is None:
            raise KeyError(key)
        del self._state[key]

    def __len__(self) -> int:
        return len(self._state) if self._state else 0

    def __iter__(self) -> Iterator[str]:
        return iter(self._state or ())

    def __hash__(self) -> int:
        return hash(id(self))

    def __eq__(self, other: object) -> bool:
        return self is other

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        info = "eof" if self._eof_sent else ("prepared" if self.prepared else "not prepared")
        return f"<{type(self).__name__} {self._reason} {info}>"


_PREPARE: Final = StreamResponse.prepare
_WRITE_EOF: Final = StreamResponse.write_eof


class Response(StreamResponse):
    """A response with its whole body known up front."""

    _flush_head = False

    def __init__(
        self,
        *,
        body: Any = None,
        status: int = 200,
        reason: str | None = None,
        text: str | None = None,
        headers: Any = None,
        content_type: str | None = None,
        charset: str | None = None,
        zlib_executor_size: int | None = MAX_SYNC_CHUNK_SIZE,
        zlib_executor: Any = None,
    ) -> None:
        if text.__class__ is str and body is None and headers is None and charset is None:
            ctype = _known_text_type(content_type) or text_type(content_type)
            if ctype is not None:
                # The common case (text, maybe a plain content type): nothing to merge.
                new_headers: CIMultiDict[str] = CIMultiDict()  # not CIMultiDict[str](): slow
                new_headers[hdrs.CONTENT_TYPE] = ctype
                self._headers = new_headers
                self._trusted = self._plain = getversion(new_headers)
                self._init_status(status, reason)
                self._body: bytes | None = text.encode()
                # _send() reads these on every response: instance values are specialised
                # reads on CPython 3.11, the class-level defaults are not.
                self._chunked = self._compression = False
                self._cookies = self._stream_body = None
                if zlib_executor_size != MAX_SYNC_CHUNK_SIZE or zlib_executor is not None:
                    self._zlib_executor_size = zlib_executor_size
                    self._zlib_executor = zlib_executor
                return
        if body is not None and text is not None:
            raise ValueError("body and text are not allowed together")
        # Not super().__init__(), which would copy the headers again: these are ours.
        self._headers, encoded = content_headers(headers, content_type, charset, text)
        self._init_status(status, reason)
        self._body = None
        self._zlib_executor_size = zlib_executor_size
        self._zlib_executor = zlib_executor
        if encoded is not None:
            self.body = encoded
        elif text is not None:
            self.text = text  # encoded in the charset of the Content-Type header given
        elif body is not None:
            self.body = body

    @property
    def body(self) -> Any:
        """The body: bytes, or the object given to stream (a file, an async iterable)."""
        return self._stream_body if self._stream_body is not None else self._body

    @body.setter
    def body(self, body: Any) -> None:
        if body is None:
            self._body = None
        elif isinstance(body, (bytes, bytearray, memoryview)):
            self._body = bytes(body)
        elif isinstance(body, str):
            self._body = body.encode(self.charset or "utf-8")
            self._headers.setdefault(hdrs.CONTENT_TYPE, "text/plain; charset=utf-8")
        else:
            # A file object, an async iterable or a multipart part: streamed by
            # write_eof(), not held in memory.
            self._stream_body = stream_source(body, self._headers)
            self._body = None

    @property
    def text(self) -> str | None:
        """The body decoded with the response's charset (UTF-8 when none); setting encodes."""
        if self._body is None:
            return None
        return self._body.decode(self.charset or "utf-8")

    @text.setter
    def text(self, text: str) -> None:
        if not isinstance(text, str):
            raise _ArgumentTypeError(f"text argument must be str ({type(text)!r})")
        if self.content_type == "application/octet-stream":
            self.content_type = "text/plain"
        charset = self.charset
        if charset is None:
            charset = self.charset = "utf-8"
        self._body = text.encode(charset)

    @property
    def content_length(self) -> int | None:
        """The declared length; None when chunked or compressed on the fly."""
        if self._chunked:
            return None
        if hdrs.CONTENT_LENGTH in self._headers:
            return int(self._headers[hdrs.CONTENT_LENGTH])
        if self._compressor is not None:
            return None
        return len(self._body) if self._body is not None else 0

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        raise RuntimeError("Content length is set automatically")

    async def _send(self, request: BaseRequest) -> None:
        """``prepare()`` and ``write_eof()`` fused for a body known up front: the same
        steps, two coroutine hops fewer on the path every plain response takes."""
        if (
            # Bound methods, not self.__dict__: reading that costs a microsecond.
            getattr(self.prepare, "__func__", None) is not _PREPARE
            or getattr(self.write_eof, "__func__", None) is not _WRITE_EOF
            or self._sink is not None
            or self._eof_sent
            or self._compression
            or self._stream_body is not None
            or request._prepare_hooks
        ):
            # prepare() or write_eof() of a subclass's or replaced on the instance (the
            # fused steps would skip them), or something awaited between them: one by one.
            await StreamResponse._send(self, request)
            return
        head = request._head
        empty = head.method == "HEAD" or self._status in BODILESS
        data = b"" if empty else self._body or b""
        self._req = request
        sink = request._sink
        headers = self._headers
        if (
            getversion(headers) == self._plain
            and self._keep_alive is None
            and head.keep_alive
            and head.version == HttpVersion11
            and not (empty or self._chunked or self._cookies)
        ):
            # The else branch's shortcut while the head is the constructor's (Content-Type
            # alone), the rules' outcome then known: nothing to check, framed by the length
            # (absent: add() needs no search), Date and Server, no Connection on kept-alive
            # HTTP/1.1. Inline: a call costs as much. test_response_send_parity.py holds
            # the two heads equal.
            headers.add(hdrs.CONTENT_LENGTH, _length_value(len(data)))
            if not sink.adds_default_headers:
                add_server_headers(headers)
            self._keep_alive = True
            self._sink = sink
            sink.start(self._status, self._reason, headers, False, True, True, False)
        else:
            self._must_be_empty_body = empty
            self._before_head()
            self._commit_head(request, sink)
            remaining = self._length_left
            if remaining is not None and len(data) != remaining and not empty:
                # A Content-Length header that disagrees with the body: write_eof() holds it.
                await self.write_eof()
                return
        self._eof_sent = True
        self._body_length = len(data)
        self._req = None  # finished, as write_eof() leaves it
        await sink.write_eof(data)

    def _before_head(self) -> None:
        if hdrs.CONTENT_LENGTH in self._headers or self._chunked:
            return
        if self._stream_body is not None:
            size = remaining_size(self._stream_body)
            if size is not None:
                self._headers[hdrs.CONTENT_LENGTH] = str(size)
            return  # an async iterable: length unknown, chunked
        body = self._body
        headers = self._headers
        trusted = getversion(headers) == self._trusted
        headers[hdrs.CONTENT_LENGTH] = _length_value(len(body) if body is not None else 0)
        if trusted:  # our own digits keep trusted headers trusted
            self._trusted = getversion(headers)

    def _last_bytes(self, data: bytes) -> bytes:
        body = self._body
        if body is not None and not data:
            data = body
        return super()._last_bytes(data)

    async def _start_compression(self, request: BaseRequest) -> None:
        await super()._start_compression(request)
        compressor = self._compressor
        if compressor is not None and self._body is not None:
            # The whole body is known: compress it once and send a real length.
            compressed = await compressor.compress(self._body, last=True)
            self._compressor = None
            self._body = compressed
            self._headers[hdrs.CONTENT_LENGTH] = str(len(compressed))


# Bound once: Python 3.11 compiles a method call on an imported name to an attribute load
# that binds the method anew on every call.
_known_text_type = TEXT_TYPES.get

# Content-Length values of small bodies, formatted once.
_DECIMALS: Final = tuple(str(size) for size in range(1024))


def _length_value(size: int) -> str:
    return _DECIMALS[size] if size < 1024 else str(size)


# Marks an argument not given, where None is a value (JSON null).
_UNSET: Any = object()
_JSON_DUMPS: Final = json.dumps  # the default encoder, for which dumps_json() stands in


def json_response(
    data: Any = _UNSET,
    *,
    text: str | None = None,
    body: bytes | None = None,
    status: int = 200,
    reason: str | None = None,
    headers: Any = None,
    content_type: str = "application/json",
    dumps: JSONEncoder = json.dumps,
) -> Response:
    """A :class:`Response` carrying ``data`` serialised with ``dumps``."""
    if data is not _UNSET:
        if text or body:
            raise ValueError("only one of data, text, or body should be specified")
        text = dumps_json(data) if dumps is _JSON_DUMPS else dumps(data)
    return Response(
        text=text,
        body=body,
        status=status,
        reason=reason,
        headers=headers,
        content_type=content_type,
    )


def json_bytes_response(
    data: Any = _UNSET,
    *,
    dumps: JSONBytesEncoder,
    body: bytes | None = None,
    status: int = 200,
    reason: str | None = None,
    headers: Any = None,
    content_type: str = "application/json",
) -> Response:
    """:func:`json_response` for an encoder that returns bytes (orjson, msgspec): the
    bytes become the body as they are, with no str round trip."""
    if data is not _UNSET:
        if body is not None:
            raise ValueError("only one of data or body should be specified")
        body = dumps(data)
    return Response(
        body=body,
        status=status,
        reason=reason,
        headers=headers,
        content_type=content_type,
    )
