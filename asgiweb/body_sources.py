"""Response bodies that are streamed rather than held: file objects, async iterables and
the parts of a multipart request relayed as they are read."""

from __future__ import annotations

import io
import mimetypes
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from multidict import CIMultiDict

from . import hdrs
from .http.mime import PartDecoder
from .http.response_headers import attachment_disposition
from .multipart import BodyPartReader
from .streams import copy_file

__all__ = [
    "STREAM_CHUNK_SIZE",
    "part_chunks",
    "remaining_size",
    "send_stream_body",
    "stream_source",
]

STREAM_CHUNK_SIZE = 256 * 1024


def stream_source(body: Any, headers: CIMultiDict[str]) -> Any:
    """What a response streams for ``body``: a multipart part's decoded data, or the
    file object or async iterable itself. Like aiohttp, a part or a named file is
    described in ``headers`` (a guessed Content-Type, a Content-Disposition naming it)
    unless they say already."""
    if isinstance(body, BodyPartReader):
        # A part of the request's multipart body, relayed decoded as it is read.
        params = {"name": body.name, "filename": body.filename}
        stream = part_chunks(body)
        _set_disposition(headers, {k: v for k, v in params.items() if v is not None})
        return stream
    if hasattr(body, "read") or hasattr(body, "__aiter__"):
        name = getattr(body, "name", None)
        if isinstance(name, str) and hasattr(body, "read"):
            _describe_file(headers, os.path.basename(name))
        return body
    raise ValueError(f"Unsupported body type {type(body)!r}")


def _describe_file(headers: CIMultiDict[str], filename: str) -> None:
    if hdrs.CONTENT_TYPE not in headers:
        guessed = mimetypes.guess_type(filename)[0]
        if guessed:
            headers[hdrs.CONTENT_TYPE] = guessed
    if filename:
        _set_disposition(headers, {"filename": filename})


def _set_disposition(headers: CIMultiDict[str], params: dict[str, str]) -> None:
    """``Content-Disposition: attachment`` with ``params``, unless one is set already."""
    if params and hdrs.CONTENT_DISPOSITION not in headers:
        headers[hdrs.CONTENT_DISPOSITION] = attachment_disposition(params)


def remaining_size(file: Any) -> int | None:
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


async def send_stream_body(
    body: Any, write: Callable[[bytes], Awaitable[None]], charset: str | None
) -> None:
    """Pass an async iterable's items, or the rest of a file (then closed), to ``write``;
    text is encoded in ``charset`` (UTF-8 when None)."""
    if hasattr(body, "__aiter__"):
        async for chunk in body:
            await write(chunk.encode() if isinstance(chunk, str) else chunk)
        return
    try:
        size = remaining_size(body)
        if size is None:
            charset = charset or "utf-8"
            while chunk := body.read(STREAM_CHUNK_SIZE):
                await write(chunk.encode(charset) if isinstance(chunk, str) else chunk)
        else:
            await copy_file(body, body.tell(), size, STREAM_CHUNK_SIZE, write)
    finally:
        body.close()  # as aiohttp: a file handed to a response is the response's to close


async def part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
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
