"""Streaming multipart reading (RFC 2046, RFC 7578). The form parser behind ``post()``
is :mod:`asgiweb.forms`.

A :class:`MultipartReader` and the :class:`BodyPartReader` objects it returns share one
buffer over the body. A part's data ends at the first ``CRLF--boundary`` followed by
``--`` or by optional whitespace and CRLF; the buffer only ever holds one chunk from the
source plus a few bytes that might start a delimiter, so parts of any size stream through
in bounded memory.

The source is anything with aiohttp's stream API: ``readany()`` (preferred: it hands over
whole buffered chunks without copying), else ``read(n)`` with ``at_eof()``. A
:class:`BodyPartReader` made directly over such a stream gives back through
``unread_data()`` what it read past its own data, leaving the stream at the boundary line.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from multidict import CIMultiDict, CIMultiDictProxy

from . import hdrs
from .http.mime import DecompressSizeError, MultipartError, PartDecoder
from .http.multipart_part import (
    HeaderLimitError,
    InvalidCharsetError,
    PartHeaders,
    checked_charset,
    content_length,
    decode_header,
    delimiter_ends,
    parse_header_line,
    parse_multipart_type,
)
from .multipart_buffer import READ_SIZE, SharedBuffer

if TYPE_CHECKING:
    from .forms import FileField, read_form

__all__ = [
    "BodyPartReader",
    "DecompressSizeError",
    "FileField",
    "HeaderLimitError",
    "InvalidCharsetError",
    "MultipartError",
    "MultipartReader",
    "MultipartResponseWrapper",
    "UnknownEncodingError",
    "read_form",
]

# aiohttp's limits for part headers, the same as for the request head itself.
DEFAULT_MAX_FIELD_SIZE = 8190
DEFAULT_MAX_HEADERS = 128
DEFAULT_MAX_DECOMPRESS_SIZE = 2**25
_BASE64_SPACE = b" \t\r\n"


class UnknownEncodingError(MultipartError, RuntimeError):
    """A part's Content-Transfer-Encoding or Content-Encoding is not one we can undo.

    A :class:`RuntimeError`, as aiohttp raises, and a :class:`MultipartError` (a
    ``ValueError``) so that ``request.post()`` answers 400.
    """


# -- readers ---------------------------------------------------------------------------------
class BodyPartReader(PartHeaders):
    """One part of a multipart body: its headers, and its data read up to the next delimiter."""

    chunk_size = 8192

    def __init__(
        self,
        boundary: bytes | str,
        headers: CIMultiDictProxy[str],
        content: Any,
        *,
        subtype: str = "mixed",
        default_charset: str | None = None,
        max_decompress_size: int = DEFAULT_MAX_DECOMPRESS_SIZE,
    ) -> None:
        """``boundary`` is the dash-boundary, ``b"--" + boundary``, as aiohttp passes it.

        ``content`` is the stream the part's data comes next from. With ``subtype``
        ``form-data`` a Content-Length header is ignored (RFC 7578 4.8), otherwise the
        data must be as long as it says.
        """
        super().__init__(headers, subtype, default_charset)
        if isinstance(boundary, str):
            boundary = boundary.encode("latin-1")
        self._dash = bytes(boundary)
        self._delim = b"\r\n" + self._dash  # RFC 2046 5.1.1: the CRLF belongs to the delimiter
        self._own = not isinstance(content, SharedBuffer)  # then it gives back what it over-reads
        self._buf = content if isinstance(content, SharedBuffer) else SharedBuffer(content)
        self._known = 0  # bytes at the front of the buffer known to be this part's data
        self._started = False  # whether the data starts with a delimiter has been decided
        self._ended = False  # the delimiter (or, if truncated, the end of the body) follows
        self._truncated = False
        self._finished = False
        self._delim_size = 0  # the length of the delimiter found
        # Bytes of data still to come by Content-Length, checked against the delimiter.
        self._length = None if subtype == "form-data" else content_length(headers)
        transfer = headers.get(hdrs.CONTENT_TRANSFER_ENCODING, "")
        self._base64 = transfer.strip().lower() == "base64"
        self.max_decompress_size = max_decompress_size

    def __repr__(self) -> str:
        return f"<BodyPartReader name={self.name!r} filename={self.filename!r}>"

    def __aiter__(self) -> BodyPartReader:
        return self

    async def __anext__(self) -> bytes:
        data = await self.next()
        if data is None:
            raise StopAsyncIteration
        return data

    async def next(self) -> bytes | None:
        """The rest of the data, as :meth:`read`; None once there is none."""
        return await self.read() or None

    def at_eof(self) -> bool:
        """True once all of this part's data has been read."""
        return self._ended and not self._known and not self._truncated

    async def _available(self) -> int:
        """How many bytes at the front of the buffer are this part's data; 0 at its end."""
        if self._known:
            return self._known
        if self._ended:
            if self._truncated:
                raise MultipartError("multipart body ended before the closing boundary")
            return 0
        await self._scan()
        return self._known

    async def _scan(self) -> None:
        """Find how much of the buffer is surely data, filling it as needed."""
        buf, delim = self._buf, self._delim
        skip = 0  # bytes after buf.pos known not to start a delimiter
        while True:
            data, pos, eof = buf.data, buf.pos, buf.eof
            if not self._started:
                # The CRLF ending the header block doubles as the delimiter's: an empty part.
                verdict = _delimiter_at(data, pos, self._dash, eof)
                if verdict:
                    return self._end(0, len(self._dash))
                if verdict is None:
                    await buf.fill()
                    continue
                self._started = True
            found = data.find(delim, pos + skip)
            if found != -1:
                verdict = delimiter_ends(data, found + len(delim), eof)
                if verdict:
                    return self._end(found - pos, len(delim))
                if verdict is False:  # a longer boundary, such as a nested part's: data
                    skip = found - pos + 1
                    continue
                if found > pos:  # the bytes before it are data either way
                    self._known = found - pos
                    return None
                await buf.fill()
                continue
            # No delimiter in sight: all but its last len(delim) - 1 bytes are surely data.
            safe = len(data) - pos - len(delim) + 1
            if safe > 0:
                self._known = safe
                return None
            if not await buf.fill():
                # Hand over what there is, then fail on the next read (as aiohttp does).
                self._ended = self._truncated = True
                self._known = len(data) - pos
                if not self._known:
                    raise MultipartError("multipart body ended before the closing boundary")
                return None

    def _end(self, known: int, delim_size: int) -> None:
        self._known = known
        self._ended = True
        self._delim_size = delim_size
        if not known:
            self._finish()

    def _finish(self) -> None:
        """The data is all read: check its length, give back what was read past it."""
        if self._finished:
            return
        self._finished = True
        if self._length:
            self._truncated = True  # refuse to read on as if the part had been whole
            raise MultipartError("part data is shorter than its Content-Length: malformed body")
        if self._own:
            self._buf.give_back(self._buf.pos + self._delim_size - len(self._dash))

    def _take(self, n: int, *, keep: bool = True) -> bytes:
        """Consume ``n`` bytes of data, known to be available."""
        if self._length is not None:
            if n > self._length:
                raise MultipartError("part data is longer than its Content-Length: malformed body")
            self._length -= n
        self._known -= n
        if keep:
            data = self._buf.take(n)
        else:
            data, self._buf.pos = b"", self._buf.pos + n
        if not self._known and self._ended and not self._truncated:
            self._finish()
        return data

    async def _read_some(self, n: int) -> bytes:
        """Up to ``n`` bytes of raw data, as soon as any are available; b"" at the end."""
        available = await self._available()
        if not available:
            return b""
        if self._length:  # a read stops at Content-Length; the next one finds the excess
            available = min(available, self._length)
        return self._take(min(n, available))

    async def _read_up_to(self, size: int) -> bytes:
        first = await self._read_some(size)
        if not first or len(first) == size:
            return first
        pieces, got = [first], len(first)
        # Stop at the end of a truncated body: return what came, fail on the next call.
        while got < size and not (self._truncated and not self._known):
            more = await self._read_some(size - got)
            if not more:
                break
            pieces.append(more)
            got += len(more)
        return b"".join(pieces)

    async def read_chunk(self, size: int = chunk_size) -> bytes:
        """The next ``size`` bytes of raw data (fewer at the end of the part).

        With Content-Transfer-Encoding base64, a chunk is extended to whole 4-character
        groups, as aiohttp does, so that each one can be passed to :meth:`decode`.
        """
        chunk = await self._read_up_to(size)
        if chunk and self._base64:
            while missing := -len(chunk.translate(None, _BASE64_SPACE)) % 4:
                more = await self._read_up_to(missing)
                if not more:
                    break
                chunk += more
        return chunk

    async def read(self, *, decode: bool = False) -> bytes:
        """The rest of the part's data, decoded when ``decode`` is true."""
        pieces = []
        while chunk := await self._read_some(sys.maxsize):
            pieces.append(chunk)
        data = b"".join(pieces)
        return await self.decode(data) if decode else data

    async def readline(self) -> bytes:
        """The next line of raw data, with its ``\\n``; b"" at the end of the part."""
        pieces = []
        while available := await self._available():
            buf = self._buf
            newline = buf.data.find(b"\n", buf.pos, buf.pos + available)
            pieces.append(self._take(available if newline == -1 else newline + 1 - buf.pos))
            if newline != -1:
                break
        return b"".join(pieces)

    async def release(self) -> None:
        """Skip the rest of the part's data without keeping it."""
        while available := await self._available():
            self._take(available, keep=False)

    async def text(self, *, encoding: str | None = None) -> str:
        """The decoded data as text, in ``encoding`` or the part's charset (UTF-8)."""
        data = await self.read(decode=True)
        return data.decode(encoding or self.get_charset("utf-8"))

    async def json(self, *, encoding: str | None = None) -> Any:
        """The decoded data parsed as JSON; None for an empty part."""
        data = await self.read(decode=True)
        return self._parse_json(data, encoding)

    async def form(self, *, encoding: str | None = None) -> list[tuple[str, str]]:
        """The decoded data parsed as ``application/x-www-form-urlencoded`` pairs."""
        data = await self.read(decode=True)
        return self._parse_form(data, encoding)

    async def decode(self, data: bytes) -> bytes:
        """Undo Content-Transfer-Encoding, then Content-Encoding, within the size bound."""
        decoder = self._decoder(self.max_decompress_size)
        return decoder.feed(data) + decoder.finish()

    def _decoder(self, limit: int) -> PartDecoder:
        headers = self.headers
        try:
            return PartDecoder(
                headers.get(hdrs.CONTENT_TRANSFER_ENCODING, ""),
                headers.get(hdrs.CONTENT_ENCODING, ""),
                limit,
            )
        except MultipartError as exc:
            raise UnknownEncodingError(str(exc)) from None


def _delimiter_at(data: bytes, pos: int, dash: bytes, eof: bool) -> bool | None:
    """Whether ``data[pos:]`` starts with a delimiter line; None if more bytes are needed."""
    if len(data) - pos < len(dash):
        return None if not eof and dash.startswith(data[pos:]) else False
    if not data.startswith(dash, pos):
        return False
    return delimiter_ends(data, pos + len(dash), eof)


class _PartStream:
    """A part's raw data as a byte source, for the reader of a nested multipart."""

    __slots__ = ("_part",)

    def __init__(self, part: BodyPartReader) -> None:
        self._part = part

    async def readany(self) -> bytes:
        return await self._part._read_some(READ_SIZE)


class _ClientResponse(Protocol):
    content: Any
    headers: Any

    async def release(self) -> Any: ...


class MultipartResponseWrapper:
    """A :class:`MultipartReader` over a client response, released once the body is read."""

    def __init__(self, resp: _ClientResponse, stream: MultipartReader) -> None:
        self.resp = resp
        self.stream = stream

    def __aiter__(self) -> MultipartResponseWrapper:
        return self

    async def __anext__(self) -> BodyPartReader | MultipartReader:
        part = await self.next()
        if part is None:
            raise StopAsyncIteration
        return part

    def at_eof(self) -> bool:
        """True once the response body has been read to its end."""
        return bool(self.resp.content.at_eof())

    async def next(self) -> BodyPartReader | MultipartReader | None:
        """The next part; the response is released after the last one."""
        item = await self.stream.next()
        if self.stream.at_eof():
            await self.release()
        return item

    async def release(self) -> None:
        """Release the response (its connection), discarding what is left of the body."""
        await self.resp.release()


class MultipartReader:
    """Reads a multipart body part by part; unread parts are skipped by :meth:`next`."""

    #: The wrapper :meth:`from_response` returns.
    response_wrapper_cls: type[MultipartResponseWrapper] = MultipartResponseWrapper
    #: The reader of nested ``multipart/*`` parts; None means ``type(self)``.
    multipart_reader_cls: type[MultipartReader] | None = None
    #: The reader of every other part.
    part_reader_cls: type[BodyPartReader] = BodyPartReader

    def __init__(
        self,
        headers: Mapping[str, str],
        content: Any,
        *,
        max_field_size: int = DEFAULT_MAX_FIELD_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
        max_decompress_size: int = DEFAULT_MAX_DECOMPRESS_SIZE,
    ) -> None:
        self.headers = headers
        self._subtype, boundary = parse_multipart_type(headers.get(hdrs.CONTENT_TYPE))
        self._dash = b"--" + boundary
        self._buf = SharedBuffer(content)
        self._max_field_size = max_field_size
        self._max_headers = max_headers
        self._max_decompress_size = max_decompress_size
        self._default_charset: str | None = None
        self._last: BodyPartReader | None = None  # what frames the last part's data
        self._at_eof = False
        self._failed: BaseException | None = None

    @classmethod
    def from_response(cls, response: _ClientResponse) -> MultipartResponseWrapper:
        """A reader over a response's ``headers`` and ``content``, in a wrapper that releases it."""
        return cls.response_wrapper_cls(response, cls(response.headers, response.content))

    def __aiter__(self) -> MultipartReader:
        return self

    async def __anext__(self) -> BodyPartReader | MultipartReader:
        part = await self.next()
        if part is None:
            raise StopAsyncIteration
        return part

    def at_eof(self) -> bool:
        """True once the closing delimiter has been read."""
        return self._at_eof

    async def next(self) -> BodyPartReader | MultipartReader | None:
        """The next part (a nested reader for ``multipart/*``); None after the last one."""
        if self._failed is not None:
            raise MultipartError("multipart reader used after an error") from self._failed
        try:
            return await self._next()
        except BaseException as exc:
            # The buffer may now sit mid-line: refuse to guess where the next part starts.
            self._failed = exc
            raise

    async def _next(self) -> BodyPartReader | MultipartReader | None:
        if self._at_eof:
            return None
        last = self._last
        if last is None:
            await self._skip_preamble()
        else:
            await last.release()
            self._buf.pos += last._delim_size  # the CRLF--boundary the part stopped at
        if await self._at_close_delimiter():
            self._at_eof = True  # RFC 2046 5.1.1: the epilogue is to be ignored
            return None
        part = await self.fetch_next_part()
        if (
            last is None
            and self._subtype == "form-data"
            and isinstance(part, BodyPartReader)
            and part.name == "_charset_"
        ):
            # HTML 4.10.21.8 (and aiohttp): a first field named _charset_ gives the
            # encoding of the text fields after it; it is not itself a field.
            self._default_charset = await _read_default_charset(part)
            return await self._next()
        return part

    async def release(self) -> None:
        """Skip every remaining part, up to the closing delimiter."""
        while await self.next() is not None:
            pass

    async def fetch_next_part(self) -> BodyPartReader | MultipartReader:
        """The reader of the part whose headers come next in the body."""
        return self._get_part_reader(await self._read_headers())

    def _get_part_reader(self, headers: CIMultiDictProxy[str]) -> BodyPartReader | MultipartReader:
        """A reader for a part with these headers: nested for ``multipart/*``."""
        ctype = headers.get(hdrs.CONTENT_TYPE, "")
        nested = ctype.split(";", 1)[0].strip().lower().startswith("multipart/")
        cls = BodyPartReader if nested else self.part_reader_cls
        part = cls(
            self._dash,
            headers,
            self._buf,
            subtype=self._subtype,
            default_charset=self._default_charset,
            max_decompress_size=self._max_decompress_size,
        )
        self._last = part
        if not nested:
            return part
        return (self.multipart_reader_cls or type(self))(
            headers,
            _PartStream(part),
            max_field_size=self._max_field_size,
            max_headers=self._max_headers,
            max_decompress_size=self._max_decompress_size,
        )

    async def _skip_preamble(self) -> None:
        # RFC 2046 5.1.1: everything before the first delimiter is preamble, to be ignored;
        # the first delimiter needs no CRLF before it.
        preamble = BodyPartReader(self._dash, _NO_HEADERS, self._buf)
        try:
            await preamble.release()
        except MultipartError:
            raise MultipartError(
                f"multipart body has no {self._dash.decode()!r} boundary"
            ) from None
        self._buf.pos += preamble._delim_size

    async def _at_close_delimiter(self) -> bool:
        """Read the rest of a delimiter line; True for the closing ``--boundary--``."""
        buf = self._buf
        while len(buf) < 2:
            if not await buf.fill():
                raise MultipartError("multipart body ended in a boundary line")
        if buf.data.startswith(b"--", buf.pos):
            buf.pos += 2
            return True
        # RFC 2046 5.1.1: only linear whitespace may follow the boundary on its line.
        rest = await buf.readline(self._max_field_size)
        if rest.strip(b" \t"):
            line = (self._dash + rest)[:100]
            raise MultipartError(f"invalid boundary line {line!r}, expected {self._dash!r}")
        return False

    async def _read_headers(self) -> CIMultiDictProxy[str]:
        """A part's header block, up to its empty line, within the header limits."""
        pairs: list[tuple[str, str]] = []
        limit = self._max_field_size
        while line := await self._buf.readline(limit):
            if line[0] in b" \t":  # RFC 5322 2.2.3: a folded continuation of the last field
                if not pairs:
                    raise MultipartError("multipart part headers start with a continuation line")
                name, value = pairs[-1]
                value = value + " " + decode_header(line.strip(b" \t"))
                if len(value) > limit:
                    raise HeaderLimitError(f"multipart header longer than {limit} bytes")
                pairs[-1] = (name, value)
                continue
            if len(pairs) >= self._max_headers:
                raise HeaderLimitError(f"more than {self._max_headers} headers in a multipart part")
            pairs.append(parse_header_line(line))
        return CIMultiDictProxy(CIMultiDict(pairs))


_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


async def _read_default_charset(part: BodyPartReader) -> str:
    value = await part.read_chunk(32)
    # The longest name in the WHATWG Encoding Standard has 19 characters.
    if len(value) > 31:
        raise InvalidCharsetError("Invalid default charset: _charset_ is too long")
    try:
        return checked_charset(value.strip().decode("ascii"))
    except UnicodeDecodeError:
        raise InvalidCharsetError(f"Invalid default charset {value!r}") from None


# The form reader moved to asgiweb.forms, which reads parts with the classes above; its
# names stay importable from here, resolved on first use so neither module imports the
# other while it loads.
_FORM_NAMES = frozenset(
    {"FileField", "read_form", "DEFAULT_MAX_FIELDS", "MIN_HEADER_BUDGET", "SPOOL_MAX_SIZE"}
)


def __getattr__(name: str) -> Any:
    if name not in _FORM_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(".forms", __package__), name)
    globals()[name] = value  # found directly from now on
    return value
