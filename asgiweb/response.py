"""StreamResponse, Response and json_response: the meaning of a response, not its framing."""

from __future__ import annotations

import asyncio
import datetime
import enum
import io
import json
import math
import mimetypes
import os
import re
import sys
import warnings
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final, TypeVar, overload
from urllib.parse import quote

from multidict import CIMultiDict, CIMultiDictProxy
from multidict import getversion as _getversion

from . import hdrs
from .helpers import HttpVersion10, HttpVersion11, http_date
from .http.codings import accepted_codings
from .http.cookies import EXPIRED, ResponseCookies
from .http.mime import PartDecoder
from .keys import ResponseKey
from .streams import copy_file

if TYPE_CHECKING:
    from .multipart import BodyPartReader
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

SERVER_SOFTWARE = f"Python/{sys.version_info[0]}.{sys.version_info[1]} asgiweb/0.1.0"
_REASONS = {s.value: s.phrase for s in HTTPStatus}
# RFC 9110 5.5: a field value must not carry CR, LF or NUL; names are tokens.
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

_T = TypeVar("_T")


# multidict's own mutation counter; typed loosely (its stub wants MultiDict[object]).
getversion: Callable[[Any], int] = _getversion

# Like aiohttp: a body piece above this many bytes is compressed in a thread.
MAX_SYNC_CHUNK_SIZE = 4096
STREAM_CHUNK_SIZE = 256 * 1024


def _remaining_size(file: Any) -> int | None:
    """Bytes left in a seekable file object, or None when it cannot tell."""
    if isinstance(file, io.TextIOBase):
        return None  # characters, not bytes: send it chunked
    position: int
    try:
        position = file.tell()
        size = os.fstat(file.fileno()).st_size if hasattr(file, "fileno") else None
    except (OSError, AttributeError, ValueError):
        size = None
    if size is None:
        try:
            position = file.tell()
            size = file.seek(0, os.SEEK_END)
            file.seek(position)
        except (OSError, AttributeError, ValueError):
            return None
    return max(0, size - position)


_BOTH_CONTENT_TYPES = (
    "passing both Content-Type header and content_type or charset params is forbidden"
)


_SENT = "Cannot change the response headers after they have been sent"


class _OrderError(RuntimeError, AssertionError):
    """``write_eof()`` or ``drain()`` called before ``prepare()`` (or after the end).

    Also an AssertionError: aiohttp checks exactly these with ``assert``, so code ported
    from it may catch that; elsewhere a call out of order is a plain RuntimeError.
    """


class _ArgumentTypeError(TypeError, AssertionError):
    """``Response.text`` given something other than str: also an AssertionError, as
    aiohttp asserts it."""


class SentHeaders(CIMultiDictProxy[str]):
    """The headers of a prepared response: readable, and any change raises RuntimeError,
    as documented for StreamResponse (the head is already on the wire)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(_SENT)

    __setitem__ = __delitem__ = add = extend = update = setdefault = _refuse
    pop = popone = popall = popitem = clear = merge = _refuse


class ContentCoding(enum.Enum):
    """Content codings for :meth:`StreamResponse.enable_compression`."""

    deflate = "deflate"
    gzip = "gzip"
    identity = "identity"


# RFC 9110 5.5, RFC 9112 4: no control character but HTAB in a field value or reason
# phrase (what aiohttp 3.14 refuses too).
_BAD_VALUE_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Statuses whose responses carry no body (RFC 9110 6.4.1).
_BODILESS: Final = frozenset((204, 304, *range(100, 200)))
_TOKENS_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def check_headers(headers: CIMultiDict[str]) -> None:
    """Refuse header names that are not tokens and values with a control character
    other than HTAB (CR and LF above all: they would split the head).

    One C-level pass over the joined values and one over the joined names; the
    per-header loop runs only to name the culprit.
    """
    if (
        _BAD_VALUE_RE.search("".join(headers.values())) is not None
        or not _TOKENS_RE.fullmatch("".join(headers.keys()))
        or "" in headers
    ):
        for name, value in headers.items():
            if not name or not _TOKEN_CHARS.issuperset(name):
                raise ValueError(f"Invalid header name {name!r}")
            if _BAD_VALUE_RE.search(value):
                raise ValueError(f"Header value of {name!r} contains a forbidden control character")


def _checked_reason(status: int, reason: str | None) -> str:
    """``reason``, or the standard phrase of ``status``; refuses what would break the
    status line."""
    if reason is None:
        return _REASONS.get(status, "")
    if _BAD_VALUE_RE.search(reason) is not None:
        # Worded as aiohttp's message, which code ported from it may match.
        raise ValueError("Reason cannot contain \\n, \\r or other control characters")
    return reason


class StreamResponse(MutableMapping[str, Any]):
    """A response whose body is written piece by piece after :meth:`prepare`."""

    _length_check = True
    # Response sends its head together with its body; a StreamResponse flushes the head
    # at prepare() so a streaming client (SSE, long poll) sees it at once.
    _flush_head = True

    # Per-instance state that starts at these class-level defaults: a response built on
    # the hot path assigns only what it changes.
    _state: dict[Any, Any] | None = None
    _cookies: ResponseCookies | None = None
    _req: BaseRequest | None = None
    _sink: ResponseSink | None = None
    _eof_sent = False
    _must_be_empty_body = False
    _keep_alive: bool | None = None
    _chunked = False
    _compression = False
    _compression_force: ContentCoding | None = None
    _compression_strategy: int | None = None
    _compressor: Any = None
    _body_length = 0
    _task: Any = None
    _stream_body: Any = None
    # The multidict version at which the headers held only values we made or checked:
    # while it still matches, check_headers() has nothing to find.
    _trusted = -1
    # The multidict version at which the headers held exactly the Content-Type that
    # Response's constructor set: while it still matches, the head is known in advance.
    _plain = -1
    _length_left: int | None = None  # body bytes Content-Length still promises
    # True for a subclass with its own prepare() or write_eof(): the server then calls
    # them, never Response's fused send that skips both.
    _overridden = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._overridden = (
            cls.prepare is not StreamResponse.prepare
            or cls.write_eof is not StreamResponse.write_eof
        )

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

    def _init_status(self, status: int, reason: str | None) -> None:
        # The common status with its standard reason needs no validation.
        if reason is None and status in _REASONS:
            self._status = status
            self._reason = _REASONS[status]
        else:
            self.set_status(status, reason)

    # -- status -----------------------------------------------------------------------
    @property
    def prepared(self) -> bool:
        """True once :meth:`prepare` has sent (or queued) the head."""
        return self._eof_sent or self._sink is not None

    @property
    def task(self) -> Any:
        """The task serving this request, when known."""
        if self._req is not None:
            return self._req.task
        return self._task

    @property
    def status(self) -> int:
        return self._status

    @property
    def reason(self) -> str:
        return self._reason

    def _check_writable(self) -> None:
        if self._sink is not None or self._eof_sent:
            raise RuntimeError("Cannot change the response headers after they have been sent")

    def set_status(self, status: int, reason: str | None = None) -> None:
        """Set status and reason; only before :meth:`prepare`."""
        if self.prepared:
            raise RuntimeError(
                "Cannot change the response status code after the headers have been sent"
            )
        status = int(status)
        if not 100 <= status <= 999:
            raise ValueError(f"Invalid status code {status}")
        self._status = status
        self._reason = _checked_reason(status, reason)

    # -- connection ---------------------------------------------------------------------
    @property
    def keep_alive(self) -> bool | None:
        return self._keep_alive

    def force_close(self) -> None:
        """Close the connection after this response."""
        self._keep_alive = False

    @property
    def body_length(self) -> int:
        """Bytes sent for this response. As aiohttp, the head and chunk framing count too
        where we write them (the native server); under ASGI the server does: body only."""
        framing: int = getattr(self._sink, "framing", 0)
        return self._body_length + framing

    # -- chunking and compression --------------------------------------------------------
    @property
    def chunked(self) -> bool:
        return self._chunked

    def enable_chunked_encoding(self, chunk_size: int | None = None) -> None:
        """Send the body with chunked transfer encoding.

        After :meth:`prepare` the framing has been sent and nothing changes; like aiohttp,
        that is no error (aiohttp-sse calls it then).
        """
        if chunk_size is not None:
            warnings.warn("Chunk size is deprecated #1615", DeprecationWarning, stacklevel=2)
        if hdrs.CONTENT_LENGTH in self._headers:
            raise RuntimeError("You can't enable chunked encoding when a content length is set")
        if self._sink is None and not self._eof_sent:
            self._chunked = True

    @property
    def compression(self) -> bool:
        return self._compression

    def enable_compression(
        self, force: ContentCoding | None = None, strategy: int | None = None
    ) -> None:
        """Compress the body with gzip or deflate, chosen from Accept-Encoding unless forced."""
        if force is not None and not isinstance(force, ContentCoding):
            raise TypeError("force must be a ContentCoding")
        self._compression = True
        self._compression_force = force
        self._compression_strategy = strategy

    # -- headers ------------------------------------------------------------------------
    @property
    def headers(self) -> CIMultiDict[str]:
        if self._sink is not None or self._eof_sent:
            return SentHeaders(self._headers)  # type: ignore[return-value]
        return self._headers

    @property
    def cookies(self) -> ResponseCookies:
        """The outgoing cookies (an ``http.cookies.SimpleCookie``)."""
        if self._cookies is None:
            self._cookies = ResponseCookies()
        return self._cookies

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        expires: str | None = None,
        domain: str | None = None,
        max_age: int | str | None = None,
        path: str = "/",
        secure: bool | None = None,
        httponly: bool | None = None,
        version: str | None = None,
        samesite: str | None = None,
        partitioned: bool | None = None,
    ) -> None:
        """Set or replace a cookie; only before :meth:`prepare`."""
        self._check_writable()
        self.cookies.set(
            name,
            value,
            expires=expires,
            domain=domain,
            max_age=max_age,
            path=path,
            secure=secure,
            httponly=httponly,
            version=version,
            samesite=samesite,
            partitioned=partitioned,
        )

    def del_cookie(
        self,
        name: str,
        *,
        path: str = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool | None = None,
        samesite: str | None = None,
    ) -> None:
        """Ask the client to delete a cookie (an expired, empty one replaces it); a
        ``SameSite=None`` cookie is only deleted by one with the same attributes."""
        self._check_writable()
        self.cookies.pop(name, None)
        self.set_cookie(
            name, "", max_age=0, expires=EXPIRED, domain=domain, path=path,
            secure=secure, httponly=httponly, samesite=samesite,
        )  # fmt: skip

    @property
    def content_length(self) -> int | None:
        value = self._headers.get(hdrs.CONTENT_LENGTH)
        return int(value) if value is not None else None

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        self._check_writable()
        if value is not None:
            value = int(value)
            if self._chunked:
                raise RuntimeError("You can't set content length when chunked encoding is enabled")
            self._headers[hdrs.CONTENT_LENGTH] = str(value)
        else:
            self._headers.pop(hdrs.CONTENT_LENGTH, None)

    @property
    def content_type(self) -> str:
        raw = self._headers.get(hdrs.CONTENT_TYPE)
        if raw is None:
            return "application/octet-stream"
        ctype = raw.partition(";")[0].strip().lower()
        # As email.message (which aiohttp parses with): no type/subtype, no type at all.
        return ctype if ctype.count("/") == 1 else "application/octet-stream"

    @content_type.setter
    def content_type(self, value: str) -> None:
        self._check_writable()
        charset = self.charset
        self._set_content_type(str(value), charset)

    @property
    def charset(self) -> str | None:
        raw = self._headers.get(hdrs.CONTENT_TYPE)
        if raw is None:
            return None
        for param in raw.split(";")[1:]:
            key, _, val = param.strip().partition("=")
            if key.lower() == "charset":
                return val.strip('"').lower()
        return None

    @charset.setter
    def charset(self, value: str | None) -> None:
        self._check_writable()
        ctype = self.content_type
        if ctype == "application/octet-stream":
            raise RuntimeError(
                "Setting charset for application/octet-stream doesn't make sense, "
                "setup content_type first"
            )
        self._set_content_type(ctype, value.lower() if value else None)

    def _set_content_type(self, ctype: str, charset: str | None) -> None:
        self._headers[hdrs.CONTENT_TYPE] = f"{ctype}; charset={charset}" if charset else ctype

    @property
    def last_modified(self) -> datetime.datetime | None:
        value = self._headers.get(hdrs.LAST_MODIFIED)
        if value is None:
            return None
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None

    @last_modified.setter
    def last_modified(self, value: int | float | datetime.datetime | str | None) -> None:
        self._check_writable()
        if value is None:
            self._headers.pop(hdrs.LAST_MODIFIED, None)
        elif isinstance(value, (int, float)):
            self._headers[hdrs.LAST_MODIFIED] = formatdate(math.ceil(value), usegmt=True)
        elif isinstance(value, datetime.datetime):
            self._headers[hdrs.LAST_MODIFIED] = formatdate(value.timestamp(), usegmt=True)
        elif isinstance(value, str):
            self._headers[hdrs.LAST_MODIFIED] = value
        else:
            raise TypeError(f"Unsupported type for last_modified: {type(value).__name__}")

    @property
    def etag(self) -> Any:
        from .request import ETag, parse_etag

        value = self._headers.get(hdrs.ETAG)
        if value is None:
            return None
        if value == "*":
            return ETag(value="*", is_weak=False)
        return parse_etag(value)  # None for a header that is no entity tag

    @etag.setter
    def etag(self, value: Any) -> None:
        self._check_writable()
        from .request import ETag, check_etag_value

        if value is None:
            self._headers.pop(hdrs.ETAG, None)
        elif isinstance(value, str) and value == "*":
            self._headers[hdrs.ETAG] = "*"
        elif isinstance(value, str):
            check_etag_value(value)
            self._headers[hdrs.ETAG] = f'"{value}"'
        elif isinstance(value, ETag) and isinstance(value.value, str):
            check_etag_value(value.value)
            prefix = "W/" if value.is_weak else ""
            self._headers[hdrs.ETAG] = f'{prefix}"{value.value}"'
        else:
            raise ValueError(f"Unsupported etag type: {type(value).__name__}")

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
        self._must_be_empty_body = method == hdrs.METH_HEAD or status in _BODILESS
        return await self._start(request)

    async def _start(self, request: BaseRequest) -> ResponseSink:
        self._req = request
        sink = request._sink
        self._before_head()
        if request._prepare_hooks:
            if not sink.adds_default_headers:
                # on_response_prepare sees them, as in aiohttp (aiohttp-cors exposes them).
                headers = self._headers
                headers.setdefault(hdrs.DATE, http_date())
                headers.setdefault(hdrs.SERVER, SERVER_SOFTWARE)
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

    def _prepare_headers(self, request: BaseRequest, server_adds_defaults: bool) -> bool:
        headers = self._headers
        head = request._head
        version = head.version
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = head.keep_alive
        if self._cookies:
            for value in self._cookies.header_values():
                headers.add(hdrs.SET_COOKIE, value)
        # Everything the application (or a hook) set is checked; what we add below is safe.
        if getversion(headers) != self._trusted:
            check_headers(headers)
        chunked = False
        if self._must_be_empty_body:
            headers.pop(hdrs.TRANSFER_ENCODING, None)
            if self._status in _BODILESS:
                headers.pop(hdrs.CONTENT_LENGTH, None)
        elif self._chunked:
            if version != HttpVersion11:
                raise RuntimeError(
                    f"Using chunked encoding is forbidden for HTTP/{version[0]}.{version[1]}"
                )
            headers.pop(hdrs.CONTENT_LENGTH, None)
            chunked = True
        elif hdrs.CONTENT_LENGTH not in headers:
            if version >= HttpVersion11:
                chunked = True
            else:
                keep_alive = False  # HTTP/1.0 without a length: the end of the body is the close
        if chunked:
            headers[hdrs.TRANSFER_ENCODING] = "chunked"
        self._chunked = chunked
        if hdrs.CONTENT_TYPE not in headers and (
            headers.get(hdrs.CONTENT_LENGTH) != "0"
            and (
                not self._must_be_empty_body
                or self._status >= 200
                and self._status not in (204, 304)
            )
        ):
            # No body (a 204, 304, 1xx or a zero length): no type, which would only mislead
            # a cache (RFC 9110 8.3); otherwise the generic default, as aiohttp.
            headers[hdrs.CONTENT_TYPE] = "application/octet-stream"
        if not server_adds_defaults:
            headers.setdefault(hdrs.DATE, http_date())
            headers.setdefault(hdrs.SERVER, SERVER_SOFTWARE)
        if hdrs.CONNECTION not in headers:
            if keep_alive:
                if version == HttpVersion10:
                    headers[hdrs.CONNECTION] = "keep-alive"
            elif version == HttpVersion11:
                headers[hdrs.CONNECTION] = "close"
        self._keep_alive = keep_alive
        return chunked

    async def _compress(self, data: bytes, *, last: bool = False) -> bytes:
        """Compress ``data``; large pieces go to a thread so the loop stays responsive."""
        compressor = self._compressor
        if len(data) <= self._zlib_sync_limit():
            out: bytes = compressor.compress(data)
            return out + compressor.flush() if last else out

        def work() -> bytes:
            out: bytes = compressor.compress(data)
            return out + compressor.flush() if last else out

        executor = getattr(self, "_zlib_executor", None)  # Response's; StreamResponse has none
        return await asyncio.get_running_loop().run_in_executor(executor, work)

    def _zlib_sync_limit(self) -> float:
        return MAX_SYNC_CHUNK_SIZE

    async def _start_compression(self, request: BaseRequest) -> None:
        coding = self._compression_force
        if coding is None:
            accepted = accepted_codings(request.headers.get(hdrs.ACCEPT_ENCODING, ""))
            # aiohttp's order of preference: deflate, then gzip.
            for candidate in (ContentCoding.deflate, ContentCoding.gzip):
                if candidate.value in accepted:
                    coding = candidate
                    break
        if coding is None or coding is ContentCoding.identity:
            return
        wbits = 16 + zlib.MAX_WBITS if coding is ContentCoding.gzip else zlib.MAX_WBITS
        strategy = self._compression_strategy
        self._compressor = zlib.compressobj(
            wbits=wbits, strategy=strategy if strategy is not None else zlib.Z_DEFAULT_STRATEGY
        )
        self._headers[hdrs.CONTENT_ENCODING] = coding.value
        self._headers.add(hdrs.VARY, hdrs.ACCEPT_ENCODING)
        self._headers.pop(hdrs.CONTENT_LENGTH, None)

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
        if self._compressor is not None:
            data = await self._compress(bytes(data))
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
        if self._compressor is not None and not self._must_be_empty_body:
            data = await self._compress(data, last=True)
        remaining = self._length_left
        if remaining is not None and not self._must_be_empty_body:
            if len(data) > remaining:
                data = data[:remaining]
            if len(data) < remaining:
                # The body ends short of its Content-Length: the client would wait for
                # the rest forever, so the connection must end with it.
                self._body_length += len(data)
                self._eof_sent = True
                await sink.write_eof(data)
                sink.abort()
                return
        self._body_length += len(data)
        self._eof_sent = True
        await sink.write_eof(data)

    async def _send_stream_body(self) -> None:
        body, self._stream_body = self._stream_body, None
        if hasattr(body, "__aiter__"):
            async for chunk in body:
                await self.write(chunk.encode() if isinstance(chunk, str) else chunk)
            return
        try:
            size = _remaining_size(body)
            if size is None:
                charset = self.charset or "utf-8"
                while chunk := body.read(STREAM_CHUNK_SIZE):
                    await self.write(chunk.encode(charset) if isinstance(chunk, str) else chunk)
            else:
                await copy_file(body, body.tell(), size, STREAM_CHUNK_SIZE, self.write)
        finally:
            body.close()  # as aiohttp: a file handed to a response is the response's to close

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


class Response(StreamResponse):
    """A response with its whole body known up front."""

    _flush_head = False
    _zlib_executor_size: int | None = MAX_SYNC_CHUNK_SIZE
    _zlib_executor: Any = None

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
            ctype = _TEXT_TYPES.get(content_type) or _text_type(content_type)
            if ctype is not None:
                # The common case (text, maybe a plain content type): nothing to merge.
                new_headers: CIMultiDict[str] = CIMultiDict()  # not CIMultiDict[str](): slow
                new_headers[hdrs.CONTENT_TYPE] = ctype
                self._headers = new_headers
                self._trusted = self._plain = getversion(new_headers)
                self._init_status(status, reason)
                self._body: bytes | None = text.encode()
                if zlib_executor_size != MAX_SYNC_CHUNK_SIZE or zlib_executor is not None:
                    self._zlib_executor_size = zlib_executor_size
                    self._zlib_executor = zlib_executor
                return
        if body is not None and text is not None:
            raise ValueError("body and text are not allowed together")
        real_headers: CIMultiDict[str] = (
            CIMultiDict(headers) if headers is not None else CIMultiDict()
        )
        if content_type is not None and "charset" in content_type:
            raise ValueError("charset must not be in content_type argument")
        if text is not None:
            if hdrs.CONTENT_TYPE in real_headers:
                if content_type or charset:
                    raise ValueError(_BOTH_CONTENT_TYPES)
                # Encoded by the text setter below, in the header's charset.
            else:
                if not isinstance(text, str):
                    raise TypeError(f"text argument must be str ({type(text)!r})")
                charset = charset or "utf-8"
                real_headers[hdrs.CONTENT_TYPE] = (
                    f"{content_type or 'text/plain'}; charset={charset}"
                )
                body = text.encode(charset)
                text = None
        elif hdrs.CONTENT_TYPE in real_headers:
            if content_type is not None or charset is not None:
                raise ValueError(_BOTH_CONTENT_TYPES)
        elif content_type is not None:
            real_headers[hdrs.CONTENT_TYPE] = (
                f"{content_type}; charset={charset}" if charset else content_type
            )
        super().__init__(status=status, reason=reason, headers=real_headers)
        self._body = None
        self._zlib_executor_size = zlib_executor_size
        self._zlib_executor = zlib_executor
        if text is not None:
            self.text = text
        elif body is not None:
            self.body = body

    @property
    def body(self) -> Any:
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
            self._set_stream_body(body)

    def _set_stream_body(self, body: Any) -> None:
        from .multipart import BodyPartReader  # here: multipart imports this module

        if isinstance(body, BodyPartReader):
            # A part of the request's multipart body, relayed decoded as it is read.
            self._body = None
            self._stream_body = _part_chunks(body)
            params = {"name": body.name, "filename": body.filename}
            self._set_disposition({k: v for k, v in params.items() if v is not None})
        elif hasattr(body, "read") or hasattr(body, "__aiter__"):
            # A file object or an async iterable: streamed by write_eof, not held in memory.
            self._body = None
            self._stream_body = body
            name = getattr(body, "name", None)
            if isinstance(name, str) and hasattr(body, "read"):
                self._describe_file(os.path.basename(name))
        else:
            raise ValueError(f"Unsupported body type {type(body)!r}")

    def _describe_file(self, filename: str) -> None:
        """As aiohttp does for a named file body: a guessed type and an attachment name."""
        headers = self._headers
        if hdrs.CONTENT_TYPE not in headers:
            guessed = mimetypes.guess_type(filename)[0]
            if guessed:
                headers[hdrs.CONTENT_TYPE] = guessed
        if filename:
            self._set_disposition({"filename": filename})

    def _set_disposition(self, params: dict[str, str]) -> None:
        """``Content-Disposition: attachment`` with ``params``, unless one is set already."""
        if params and hdrs.CONTENT_DISPOSITION not in self._headers:
            value = "; ".join(["attachment", *map(_disposition_param, params.items())])
            self._headers[hdrs.CONTENT_DISPOSITION] = value

    @property
    def text(self) -> str | None:
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
        # prepare() and write_eof() fused for a body known up front: the same steps, two
        # coroutine hops fewer on the path every plain response takes.
        if self._overridden:
            await StreamResponse._send(self, request)
            return
        head = request._head
        headers = self._headers
        if (
            getversion(headers) == self._plain
            and self._sink is None
            and not self._eof_sent
            and self._keep_alive is None
            and head.keep_alive
            and head.version == HttpVersion11
            and self._status not in _BODILESS
            and head.method != "HEAD"
            and not (self._compression or self._cookies or request._prepare_hooks)
            and self._stream_body is None
        ):
            # Untouched since the constructor, on a kept-alive HTTP/1.1 connection: what
            # _before_head() and _prepare_headers() would add is known, only the length.
            sink = request._sink
            data = self._body or b""
            size = len(data)
            # add(), not item assignment: the header is known to be absent, no search.
            headers.add(hdrs.CONTENT_LENGTH, _DECIMALS[size] if size < 1024 else str(size))
            if not sink.adds_default_headers:
                headers.add(hdrs.DATE, http_date())
                headers.add(hdrs.SERVER, SERVER_SOFTWARE)
            self._req = request
            self._keep_alive = True
            self._sink = sink
            self._eof_sent = True
            self._body_length = size
            sink.start(self._status, self._reason, headers, False, True, True, False)
            await sink.write_eof(data)
            return
        if (
            self._sink is not None
            or self._eof_sent
            or self._compression
            or self._stream_body is not None
            or request._prepare_hooks
        ):
            await super()._send(request)
            return
        status = self._status
        empty = self._must_be_empty_body = head.method == "HEAD" or status in _BODILESS
        self._req = request
        sink = request._sink
        self._before_head()
        self._commit_head(request, sink)
        data = b"" if empty else self._body or b""
        remaining = self._length_left
        if remaining is not None and len(data) != remaining and not empty:
            # A Content-Length header that disagrees with the body: the slow path holds it.
            await self.write_eof()
            return
        self._eof_sent = True
        self._body_length = len(data)
        await sink.write_eof(data)

    def _before_head(self) -> None:
        if hdrs.CONTENT_LENGTH in self._headers or self._chunked:
            return
        if self._stream_body is not None:
            size = _remaining_size(self._stream_body)
            if size is not None:
                self._headers[hdrs.CONTENT_LENGTH] = str(size)
            return  # an async iterable: length unknown, chunked
        body = self._body
        headers = self._headers
        trusted = getversion(headers) == self._trusted
        headers[hdrs.CONTENT_LENGTH] = str(len(body) if body is not None else 0)
        if trusted:  # our own digits keep trusted headers trusted
            self._trusted = getversion(headers)

    def _last_bytes(self, data: bytes) -> bytes:
        body = self._body
        if body is not None and not data:
            data = body
        return super()._last_bytes(data)

    async def _start_compression(self, request: BaseRequest) -> None:
        await super()._start_compression(request)
        if self._compressor is not None and self._body is not None:
            # The whole body is known: compress it once and send a real length.
            compressed = await self._compress(self._body, last=True)
            self._compressor = None
            self._body = compressed
            self._headers[hdrs.CONTENT_LENGTH] = str(len(compressed))

    def _zlib_sync_limit(self) -> float:
        size = self._zlib_executor_size
        return float("inf") if size is None else size


# Content-Length values of small bodies, formatted once.
_DECIMALS: Final = tuple(str(size) for size in range(1024))

# Content-Type values of text responses, by content_type argument (None: text/plain).
_TEXT_TYPES: dict[str | None, str] = {None: "text/plain; charset=utf-8"}


def _text_type(content_type: object) -> str | None:
    """The Content-Type for UTF-8 text of ``content_type``; None when the general path
    must handle it (a charset in it, a value a header cannot carry, not a str)."""
    if not isinstance(content_type, str):
        return None
    if "charset" in content_type or _BAD_VALUE_RE.search(content_type) is not None:
        return None
    ctype = f"{content_type}; charset=utf-8"
    if len(_TEXT_TYPES) < 64:  # bounded: content types may come from user input
        _TEXT_TYPES[content_type] = ctype
    return ctype


# Marks an argument not given, where None is a value (JSON null).
_UNSET: Any = object()


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
        text = dumps(data)
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


def _disposition_param(item: tuple[str, str]) -> str:
    """One Content-Disposition parameter: quoted when printable ASCII, otherwise
    ``key*=utf-8''...`` (RFC 6266 4.3, RFC 8187) so no name can break the header."""
    key, value = item
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'{key}="{value}"'
    return f"{key}*=utf-8''{quote(value, safe='')}"


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    """The data of a multipart part, its transfer and content encodings undone."""
    headers = part.headers
    decoder = PartDecoder(
        headers.get(hdrs.CONTENT_TRANSFER_ENCODING, ""),
        headers.get(hdrs.CONTENT_ENCODING, ""),
        part.max_decompress_size,
    )
    while chunk := await part.read_chunk(STREAM_CHUNK_SIZE):
        if data := decoder.feed(chunk):
            yield data
    if data := decoder.finish():
        yield data
