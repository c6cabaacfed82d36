"""The one request-body reader, fed by the native server or pulled from ASGI ``receive``."""

from __future__ import annotations

import asyncio
import collections
import os
import warnings
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

if TYPE_CHECKING:
    from .transport import RequestHead

__all__ = ["StreamReader", "EofStream", "EMPTY_PAYLOAD", "FlowControl"]


class EofStream(Exception):
    """Raised internally when a stream ends."""


class FlowControl(Protocol):
    """What a pushing transport offers so the reader can apply back-pressure."""

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...


Puller = Callable[["StreamReader"], Awaitable[None]]


class StreamReader:
    """Buffered request body with aiohttp's reading API.

    Data arrives one of two ways: a transport *pushes* it with :meth:`feed_data`
    (pausing itself through ``flow`` when the buffer passes the high-water mark),
    or the reader *pulls* it through ``pull`` only when a caller needs more.
    """

    def __init__(
        self,
        *,
        limit: int = 2**16,
        flow: FlowControl | None = None,
        pull: Puller | None = None,
    ) -> None:
        self._buffer: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._cursor = 0  # bytes consumed overall, for total_bytes bookkeeping
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._eof_waiters: list[asyncio.Future[None]] = []
        self._exception: BaseException | None = None
        self._flow = flow
        self._pull = pull
        self._pulling = False
        #: True while this reader holds its transport's reading paused (its buffer is past
        #: the high-water mark); a transport reads it before resuming for another reason.
        self.paused = False
        self._low_water = limit
        self._high_water = limit * 2
        self.total_bytes = 0

    def __repr__(self) -> str:
        state = []
        if self._size:
            state.append(f"{self._size} bytes")
        if self._eof:
            state.append("eof")
        return f"<StreamReader {' '.join(state)}>"

    # -- feeding side ---------------------------------------------------------------
    def exception(self) -> BaseException | None:
        """The error the body failed with, or None."""
        return self._exception

    def set_exception(self, exc: BaseException) -> None:
        """Fail the body with ``exc`` (transport side); a read waiting for data raises it."""
        self._exception = exc
        self._wake(exc)

    def feed_data(self, data: bytes) -> None:
        """Append body bytes (transport side)."""
        if not data:
            return
        self._buffer.append(data)
        self._size += len(data)
        self.total_bytes += len(data)
        self._wake()
        if self._flow is not None and not self.paused and self._size > self._high_water:
            self.paused = True
            self._flow.pause_reading()

    def feed_eof(self) -> None:
        """Mark the end of the body (transport side)."""
        self._eof = True
        if self.paused and self._flow is not None:
            # Nothing more of this body can come: what the transport holds back now is the
            # next request's, and a handler that never reads this buffer (a 413 by
            # Content-Length) must not leave the connection paused for good.
            self.paused = False
            self._flow.resume_reading()
        self._wake()
        for fut in self._eof_waiters:
            if not fut.done():
                fut.set_result(None)
        self._eof_waiters.clear()

    def _wake(self, exc: BaseException | None = None) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                if exc is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(exc)

    def get_read_buffer_limits(self) -> tuple[int, int]:
        """``(low, high)`` water marks: reading pauses above high, resumes below low."""
        return (self._low_water, self._high_water)

    def is_eof(self) -> bool:
        """True once the transport has delivered the whole body."""
        return self._eof

    def at_eof(self) -> bool:
        """True when the body is finished and the buffer is empty."""
        return self._eof and not self._buffer

    async def wait_eof(self) -> None:
        if self._eof:
            return
        fut = asyncio.get_running_loop().create_future()
        self._eof_waiters.append(fut)
        await fut

    def unread_data(self, data: bytes) -> None:
        """Push data back to the front of the buffer (deprecated in aiohttp)."""
        warnings.warn("unread_data() is deprecated", DeprecationWarning, stacklevel=2)
        if data:
            self._buffer.appendleft(data)
            self._size += len(data)

    # -- reading side ---------------------------------------------------------------
    async def _wait(self, func_name: str) -> None:
        if self._pull is not None:
            if self._pulling:
                raise RuntimeError(f"{func_name}() called while another coroutine is reading")
            self._pulling = True
            try:
                await self._pull(self)
            finally:
                self._pulling = False
            if self._exception is not None:
                raise self._exception
            return
        if self._waiter is not None:
            raise RuntimeError(
                f"{func_name}() called while another coroutine is already waiting for data"
            )
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    async def _fill(self, func_name: str) -> bool:
        """Wait until the buffer holds data; False when the body is over."""
        while not self._buffer:
            if self._exception is not None:
                raise self._exception
            if self._eof:
                return False
            await self._wait(func_name)
        return True

    def _take(self, n: int) -> bytes:
        """Remove up to ``n`` bytes (``-1``: one buffered piece) from the buffer."""
        first = self._buffer[0]
        if n == -1 or n >= len(first):
            data = self._buffer.popleft()
        else:
            data = first[:n]
            self._buffer[0] = first[n:]
        self._size -= len(data)
        self._cursor += len(data)
        if self.paused and self._size < self._low_water and self._flow is not None:
            self.paused = False
            self._flow.resume_reading()
        return data

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes; ``-1`` reads to the end of the body."""
        if self._exception is not None:
            raise self._exception
        if n == 0:
            return b""
        if n < 0:
            parts = []
            while True:
                chunk = await self.readany()
                if not chunk:
                    break
                parts.append(chunk)
            return b"".join(parts)
        if not await self._fill("read"):
            return b""
        return self._take(n)

    async def read_all(self, limit: int = 0) -> bytes:
        """The rest of the body in one piece, copied once.

        With a ``limit``, reading stops as soon as more than ``limit`` bytes are held: the
        result is then longer than ``limit`` (by at most one piece) and the caller refuses
        it, having never held more of an oversized body than that.
        """
        parts: list[bytes] = []
        size = 0
        buffer = self._buffer
        while True:
            if buffer:
                taken = self._size
                parts.extend(buffer)
                buffer.clear()
                self._size = 0
                self._cursor += taken
                size += taken
                if self.paused and self._flow is not None:
                    self.paused = False
                    self._flow.resume_reading()
                if limit and size > limit:
                    break
            if self._exception is not None:
                raise self._exception
            if self._eof:
                break
            await self._wait("read")
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    async def readany(self) -> bytes:
        """Read whatever is buffered, waiting for something if the buffer is empty."""
        if not await self._fill("readany"):
            return b""
        return self._take(-1)

    async def readchunk(self) -> tuple[bytes, bool]:
        """Read one buffered piece as ``(data, end_of_http_chunk)``."""
        if not await self._fill("readchunk"):
            return (b"", False)
        return (self._take(-1), False)

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes or raise :class:`asyncio.IncompleteReadError`."""
        parts: list[bytes] = []
        got = 0
        while got < n:
            if not await self._fill("readexactly"):
                partial = b"".join(parts)
                raise asyncio.IncompleteReadError(partial, n)
            data = self._take(n - got)
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    async def readline(self) -> bytes:
        """Read one line, ending with ``\\n`` unless the body ends first."""
        return await self.readuntil(b"\n")

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """Read up to and including ``separator``, or to the end of the body."""
        if not separator:
            raise ValueError("Separator should be at least one-byte string")
        seplen = len(separator)
        acc = bytearray()
        while True:
            if not await self._fill("readuntil"):
                return bytes(acc)
            chunk = self._buffer[0]
            # Search from just before the old end: a separator may straddle two pieces.
            start = max(0, len(acc) - seplen + 1)
            before = len(acc)
            acc += chunk
            pos = acc.find(separator, start)
            if pos != -1:
                end = pos + seplen
                self._take(end - before)
                return bytes(acc[:end])
            self._take(-1)

    def read_nowait(self, n: int = -1) -> bytes:
        """Return buffered data without waiting."""
        if self._exception is not None:
            raise self._exception
        if not self._buffer:
            return b""
        if n == -1:
            data = b"".join(self._buffer)
            self._buffer.clear()
            self._size = 0
            self._cursor += len(data)
            if self.paused and self._flow is not None:
                self.paused = False
                self._flow.resume_reading()
            return data
        return self._take(n)

    # -- iteration ------------------------------------------------------------------
    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iter(self.readline)

    def iter_chunked(self, n: int) -> AsyncIterator[bytes]:
        """Iterate over pieces of at most ``n`` bytes."""
        return self._iter(lambda: self.read(n))

    def iter_any(self) -> AsyncIterator[bytes]:
        """Iterate over pieces as they arrive."""
        return self._iter(self.readany)

    async def iter_chunks(self) -> AsyncIterator[tuple[bytes, bool]]:
        """Iterate over ``(data, end_of_http_chunk)`` tuples."""
        while True:
            item = await self.readchunk()
            if not item[0] and not item[1]:
                return
            yield item

    @staticmethod
    async def _iter(read: Callable[[], Awaitable[bytes]]) -> AsyncIterator[bytes]:
        while True:
            data = await read()
            if not data:
                return
            yield data


class _EmptyStreamReader(StreamReader):
    """The body of a request that has none."""

    def __init__(self) -> None:
        super().__init__()
        self._eof = True

    def __repr__(self) -> str:
        return "<EmptyStreamReader>"

    def feed_data(self, data: bytes) -> None:
        raise RuntimeError("cannot feed data to the empty payload")


EMPTY_PAYLOAD: StreamReader = _EmptyStreamReader()


# Linux >= 4.14: a read that copies only what the page cache holds and fails with EAGAIN
# rather than wait for the disk. Where it works, a cached file is read on the event loop,
# which spares a thread round trip per chunk (the bulk of the CPU cost of sending a file)
# and keeps every chunk allocated by the loop's thread, not scattered over the executor
# threads' malloc arenas.
_RWF_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None) if hasattr(os, "preadv") else None


def _read_cached(fd: int, position: int, size: int, flags: int) -> bytes:
    """Up to ``size`` bytes at ``position`` that the page cache holds; raises
    BlockingIOError if it holds none of them."""
    buffer = bytearray(size)
    read = os.preadv(fd, [buffer], position, flags)
    return bytes(buffer) if read == size else bytes(memoryview(buffer)[:read])


def _descriptor(file: BinaryIO) -> int | None:
    try:
        return file.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


async def copy_file(
    file: BinaryIO,
    offset: int,
    count: int,
    chunk_size: int,
    write: Callable[[bytes], Awaitable[None]],
) -> None:
    """Send ``count`` bytes of ``file`` from ``offset`` through ``write``, one chunk of
    at most ``chunk_size`` bytes in memory at a time.

    What the page cache holds is read on the event loop (Linux); anything that would wait
    for the disk is read in a thread, so a slow disk never blocks the loop.
    """
    loop = asyncio.get_running_loop()
    fd = _descriptor(file)
    nowait = _RWF_NOWAIT if fd is not None else None

    def read_at(position: int, size: int) -> bytes:
        file.seek(position)
        return file.read(size)

    position = offset
    end = offset + count
    while position < end:
        size = min(chunk_size, end - position)
        chunk = b""
        if nowait is not None:
            assert fd is not None
            try:
                chunk = _read_cached(fd, position, size, nowait)
            except BlockingIOError:
                pass  # none of it cached: the thread waits for the disk
            except OSError:
                nowait = None  # a file system or file kind without it: threads from now on
            else:
                # A write that need not wait returns without suspending: without this,
                # a cached file would hold the loop until its end, and a server that
                # drops what a departed client is sent would never let us notice.
                await asyncio.sleep(0)
        if not chunk:
            chunk = await loop.run_in_executor(None, read_at, position, size)
        if not chunk:
            raise OSError(f"{getattr(file, 'name', file)!r} ended before the expected length")
        await write(chunk)
        position += len(chunk)
    if fd is not None:
        file.seek(end)  # where reading it through the file object would have left it


# Content codings the body reader undoes (as aiohttp's auto_decompress); wbits for zlib.
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_DECODED_CHUNK = 64 * 1024


def decode_body(head: RequestHead, raw: StreamReader) -> StreamReader:
    """The body as the handler reads it: ``raw`` itself, or ``raw`` inflated when the
    request says ``Content-Encoding: gzip`` or ``deflate``.

    Inflation happens as the handler reads, at most 64 KiB at a time, so a small
    compressed body cannot fill memory before ``client_max_size`` sees it.
    """
    if not head.has_body:
        return raw
    coding = (head.first_value(b"content-encoding") or "").strip().lower()
    if coding not in ("gzip", "x-gzip", "deflate"):
        return raw  # identity, or a coding we do not undo: handed over as sent
    inflater: Any = None
    tail = b""

    async def pull(reader: StreamReader) -> None:
        nonlocal inflater, tail
        while True:
            if tail:
                data, tail = inflater.decompress(tail, _DECODED_CHUNK), b""
            else:
                compressed = await raw.readany()
                if not compressed:
                    if inflater is not None:
                        reader.feed_data(inflater.flush())
                    reader.feed_eof()
                    return
                if inflater is None:
                    inflater = zlib.decompressobj(_wbits(coding, compressed))
                data = inflater.decompress(compressed, _DECODED_CHUNK)
            tail = inflater.unconsumed_tail
            if data:
                reader.feed_data(data)
                return

    async def guarded(reader: StreamReader) -> None:
        try:
            await pull(reader)
        except zlib.error:
            from .handling import RequestPayloadError  # handling imports what imports us

            reader.set_exception(RequestPayloadError(f"The body is not valid {coding} data"))

    return StreamReader(pull=guarded, limit=raw._low_water)


def _wbits(coding: str, first: bytes) -> int:
    if coding != "deflate":
        return _GZIP_WBITS
    # RFC 9110 says zlib-wrapped, but many clients send raw deflate: look at the header.
    return zlib.MAX_WBITS if first and first[0] & 0x0F == 8 else -zlib.MAX_WBITS
