"""Response compression: the content coding chosen from Accept-Encoding, and the zlib
stream that compresses one body."""

from __future__ import annotations

import asyncio
import enum
import zlib
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict

from . import hdrs
from .http.codings import accepted_codings

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = [
    "MAX_SYNC_CHUNK_SIZE",
    "BodyCompressor",
    "ContentCoding",
    "ResponseCompression",
    "negotiate_coding",
]

# Like aiohttp: a body piece above this many bytes is compressed in a thread.
MAX_SYNC_CHUNK_SIZE = 4096


class ContentCoding(enum.Enum):
    """Content codings for :meth:`StreamResponse.enable_compression`."""

    deflate = "deflate"
    gzip = "gzip"
    identity = "identity"


def negotiate_coding(accept_encoding: str) -> ContentCoding | None:
    """The coding to compress with for this Accept-Encoding value; None for none."""
    accepted = accepted_codings(accept_encoding)
    # aiohttp's order of preference: deflate, then gzip.
    for candidate in (ContentCoding.deflate, ContentCoding.gzip):
        if candidate.value in accepted:
            return candidate
    return None


class BodyCompressor:
    """The zlib stream of one response body (gzip or deflate).

    A piece longer than ``sync_limit`` bytes is compressed in ``executor`` (None: the
    loop's default) so the event loop stays responsive.
    """

    __slots__ = ("_zlib", "_sync_limit", "_executor")

    def __init__(
        self, coding: ContentCoding, strategy: int | None, sync_limit: float, executor: Any
    ) -> None:
        wbits = 16 + zlib.MAX_WBITS if coding is ContentCoding.gzip else zlib.MAX_WBITS
        self._zlib = zlib.compressobj(
            wbits=wbits, strategy=strategy if strategy is not None else zlib.Z_DEFAULT_STRATEGY
        )
        self._sync_limit = sync_limit
        self._executor = executor

    async def compress(self, data: bytes, *, last: bool = False) -> bytes:
        """Compress ``data``; with ``last``, also flush the end of the stream."""
        if len(data) <= self._sync_limit:
            compressor = self._zlib
            out: bytes = compressor.compress(data)
            return out + compressor.flush() if last else out
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, data, last)

    def _run(self, data: bytes, last: bool) -> bytes:
        compressor = self._zlib
        out: bytes = compressor.compress(data)
        return out + compressor.flush() if last else out


class ResponseCompression:
    """Compression for :class:`~asgiweb.response.StreamResponse`: the switch, and the
    coding and compressor chosen as the head goes out."""

    _headers: CIMultiDict[str]
    _compression = False
    _compression_force: ContentCoding | None = None
    _compression_strategy: int | None = None
    _compressor: BodyCompressor | None = None
    # Body pieces above this many bytes are compressed in _zlib_executor (None: a thread).
    _zlib_executor_size: int | None = MAX_SYNC_CHUNK_SIZE
    _zlib_executor: Any = None

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

    async def _start_compression(self, request: BaseRequest) -> None:
        coding = self._compression_force
        if coding is None:
            coding = negotiate_coding(request.headers.get(hdrs.ACCEPT_ENCODING, ""))
        if coding is None or coding is ContentCoding.identity:
            return
        size = self._zlib_executor_size
        self._compressor = BodyCompressor(
            coding,
            self._compression_strategy,
            float("inf") if size is None else size,
            self._zlib_executor,
        )
        self._headers[hdrs.CONTENT_ENCODING] = coding.value
        self._headers.add(hdrs.VARY, hdrs.ACCEPT_ENCODING)
        self._headers.pop(hdrs.CONTENT_LENGTH, None)
