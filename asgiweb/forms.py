"""The form behind ``request.post()`` for a ``multipart/form-data`` body: fields as
``str``, ``bytes`` or :class:`FileField` (spooled to disk past a size), held to
``client_max_size``, a field count and a budget for part headers."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from multidict import CIMultiDictProxy, MultiDict, MultiDictProxy

from . import hdrs
from .exceptions import HTTPRequestEntityTooLarge
from .http.mime import DecompressSizeError, MultipartError
from .http.multipart_part import checked_charset
from .multipart import BodyPartReader, MultipartReader
from .multipart_buffer import READ_SIZE

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = ["DEFAULT_MAX_FIELDS", "MIN_HEADER_BUDGET", "SPOOL_MAX_SIZE", "FileField", "read_form"]

DEFAULT_MAX_FIELDS = 1000  # aiohttp 3.14's client_max_fields
# The part headers of a whole form may total client_max_size, and never less than this:
# the least the native server allows a request head (see docs/differences.md).
MIN_HEADER_BUDGET = 2**16
SPOOL_MAX_SIZE = 2**20


@dataclass(frozen=True, slots=True)
class FileField:
    """An uploaded file, as a value of ``request.post()``."""

    name: str
    filename: str
    file: IO[bytes]
    content_type: str
    headers: CIMultiDictProxy[str]


class _FormLimits:
    """Running totals of form data against ``client_max_size`` and the field count (0: none)."""

    __slots__ = ("max_size", "total", "max_fields", "fields", "max_header_bytes", "header_bytes")

    def __init__(self, max_size: int, max_fields: int) -> None:
        self.max_size = max_size or sys.maxsize
        self.total = 0
        self.max_fields = max_fields or sys.maxsize
        self.fields = 0
        self.max_header_bytes = max(self.max_size, MIN_HEADER_BUDGET)
        self.header_bytes = 0

    @property
    def left(self) -> int:
        return self.max_size - self.total

    def add(self, n: int) -> None:
        self.total += n
        if self.total > self.max_size:
            raise HTTPRequestEntityTooLarge(max_size=self.max_size, actual_size=self.total)

    def add_headers(self, headers: Mapping[str, str]) -> None:
        # Part headers are not field data (aiohttp 3.13 counts data only), yet a FileField
        # keeps them: without a bound of their own, 1000 parts of 128 long header lines
        # would hold a gigabyte under any client_max_size. A budget apart from the data's
        # leaves an ordinary form all of the limit for its values.
        self.header_bytes += sum(len(name) + len(value) for name, value in headers.items())
        if self.header_bytes > self.max_header_bytes:
            budget = self.max_header_bytes
            raise HTTPRequestEntityTooLarge(
                max_size=budget,
                actual_size=self.header_bytes,
                text=f"Maximum size of multipart part headers {budget} exceeded.",
            )

    def add_field(self) -> None:
        self.fields += 1
        if self.fields > self.max_fields:
            # As aiohttp 3.14: many empty fields cost memory that no byte count sees.
            raise HTTPRequestEntityTooLarge(
                max_size=self.max_fields,
                actual_size=self.fields,
                text=f"Maximum number of form fields {self.max_fields} exceeded.",
            )


async def read_form(
    request: BaseRequest,
    *,
    content: Any = None,
    max_fields: int = DEFAULT_MAX_FIELDS,
    spool_max_size: int = SPOOL_MAX_SIZE,
) -> MultiDictProxy[str | bytes | FileField]:
    """Parse a ``multipart/form-data`` body into fields, as ``request.post()`` returns them.

    Text parts become ``str`` (non-text Content-Types stay ``bytes``); parts with a
    filename become :class:`FileField` over a temporary file that spools to disk past
    ``spool_max_size``. While reading, the decoded size of all fields together is held
    to ``request.client_max_size``, their number to ``max_fields``, and the size of all
    part headers together to ``client_max_size`` or 64 KiB, the larger (413 past any).
    ``content`` replaces ``request.content`` when the body was already read.
    """
    reader = MultipartReader(request.headers, request.content if content is None else content)
    limits = _FormLimits(request.client_max_size, max_fields)
    fields: MultiDict[str | bytes | FileField] = MultiDict()
    try:
        await _read_fields(reader, limits, fields, spool_max_size)
    except BaseException:
        for value in fields.values():
            if isinstance(value, FileField):
                value.file.close()
        raise
    return MultiDictProxy(fields)


async def _read_fields(
    reader: MultipartReader,
    limits: _FormLimits,
    fields: MultiDict[str | bytes | FileField],
    spool_max_size: int,
) -> None:
    charset = "utf-8"
    async for part in reader:
        limits.add_field()
        limits.add_headers(part.headers)
        if isinstance(part, MultipartReader):
            raise MultipartError("nested multipart form fields are not supported here")
        name = part.name
        if name is None:
            raise MultipartError("multipart form field without a name")
        if part.filename:
            fields.add(name, await _read_file(part, name, part.filename, limits, spool_max_size))
            continue
        value = await _read_value(part, limits)
        ctype = part.headers.get(hdrs.CONTENT_TYPE)
        if ctype is not None and not ctype.lower().startswith("text/"):
            fields.add(name, value)  # as aiohttp: non-text values stay bytes
            continue
        text = _decode_text(name, value, part.get_charset(charset))
        if name == "_charset_":  # a later one than the reader takes: it applies from here on
            charset = checked_charset(text.strip())
        fields.add(name, text)


async def _read_value(part: BodyPartReader, size: _FormLimits) -> bytes:
    pieces: list[bytes] = []

    async def append(chunk: bytes) -> None:
        pieces.append(chunk)

    await _pump(part, size, append)
    return b"".join(pieces)


async def _read_file(
    part: BodyPartReader, name: str, filename: str, size: _FormLimits, spool_max_size: int
) -> FileField:
    file = tempfile.SpooledTemporaryFile(max_size=spool_max_size)
    loop = asyncio.get_running_loop()
    written = 0

    async def write(chunk: bytes) -> None:
        nonlocal written
        written += len(chunk)
        if written > spool_max_size:
            # On disk now (or rolling over to it): keep blocking file I/O off the event loop.
            await loop.run_in_executor(None, file.write, chunk)
        else:
            file.write(chunk)

    try:
        await _pump(part, size, write)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    ctype = part.headers.get(hdrs.CONTENT_TYPE, "text/plain")  # RFC 7578 4.4's default
    return FileField(name, filename, file, ctype, part.headers)


async def _pump(
    part: BodyPartReader, size: _FormLimits, write: Callable[[bytes], Awaitable[None]]
) -> None:
    """Decode ``part`` chunk by chunk into ``write``, counting each byte against ``size``."""
    # Inflated data may not outgrow what is left of client_max_size either.
    bound = min(part.max_decompress_size, size.left)
    decoder = part._decoder(bound)
    try:
        while chunk := await part._read_some(READ_SIZE):
            if out := decoder.feed(chunk):
                size.add(len(out))
                await write(out)
        out = decoder.finish()
    except DecompressSizeError:
        if bound < part.max_decompress_size:
            size.add(bound + 1)  # raises 413: the form, not the part, is too large
        raise
    if out:
        size.add(len(out))
        await write(out)


def _decode_text(name: str, value: bytes, charset: str) -> str:
    try:
        return value.decode(checked_charset(charset))
    except UnicodeDecodeError:
        raise MultipartError(f"form field {name!r} is not valid {charset}") from None
