"""The buffer a multipart reader and its part readers share over one byte source."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from .http.mime import MultipartError
from .http.multipart_part import HeaderLimitError

__all__ = ["READ_SIZE", "SharedBuffer", "chunk_reader"]

#: How much a reader asks a source without ``readany()`` for at a time.
READ_SIZE = 2**16


def chunk_reader(source: Any) -> Callable[[], Awaitable[bytes]]:
    """How to get the next chunk from ``source``: ``readany()``, else ``read(n)``."""
    readany = getattr(source, "readany", None)
    if readany is not None:
        return readany  # type: ignore[no-any-return]
    read, at_eof = source.read, getattr(source, "at_eof", None)

    async def read_some() -> bytes:
        # at_eof() first: some streams fail, rather than return b"", when read past the end.
        if at_eof is not None and at_eof():
            return b""
        return await read(READ_SIZE)  # type: ignore[no-any-return]

    return read_some


class SharedBuffer:
    """Bytes read from a source and not yet consumed; shared by a reader and its parts."""

    __slots__ = ("source", "_read", "data", "pos", "eof")

    def __init__(self, source: Any) -> None:
        self.source = source
        self._read: Callable[[], Awaitable[bytes]] | None = None  # resolved on first use
        self.data = b""
        self.pos = 0
        self.eof = False

    def __len__(self) -> int:
        return len(self.data) - self.pos

    async def fill(self) -> bool:
        """Append the next chunk from the source; False once the source is exhausted."""
        if self.eof:
            return False
        if self._read is None:
            self._read = chunk_reader(self.source)
        chunk = await self._read()
        if not chunk:
            self.eof = True
            return False
        # Callers fill only when what is left is shorter than a delimiter or a header line.
        self.data = self.data[self.pos :] + chunk if self.pos < len(self.data) else bytes(chunk)
        self.pos = 0
        return True

    def take(self, n: int) -> bytes:
        start = self.pos
        self.pos = start + n
        return self.data[start : start + n]

    async def readline(self, limit: int) -> bytes:
        """The next CRLF-terminated line without its CRLF; at most ``limit`` bytes long."""
        scanned = 0
        while True:
            data, pos = self.data, self.pos
            end = data.find(b"\r\n", pos + scanned, pos + limit + 2)
            if end != -1:
                self.pos = end + 2
                return data[pos:end]
            if len(data) - pos >= limit + 2:
                raise HeaderLimitError(f"multipart header line longer than {limit} bytes")
            scanned = max(0, len(data) - pos - 1)
            if not await self.fill():
                raise MultipartError("multipart body ended in the middle of a header line")

    def give_back(self, start: int) -> None:
        """Return the bytes from ``start`` on to the source, which reads them again."""
        rest, self.data, self.pos = self.data[start:], b"", 0
        unread = getattr(self.source, "unread_data", None)
        if rest and unread is not None:
            with warnings.catch_warnings():  # deprecated in aiohttp, and the way it is done
                warnings.simplefilter("ignore", DeprecationWarning)
                unread(rest)
