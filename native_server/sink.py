"""The native server's response sink: a response framed onto its connection."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, BinaryIO

from multidict import CIMultiDict

from asgiweb.streams import copy_file
from asgiweb.transport import HeldHeadSink

from .wire.serializer import CONTINUE_100, LAST_CHUNK, frame_chunk, serialize_head

if TYPE_CHECKING:
    from asgiweb.http.ws_handshake import DeflateParams

    from .protocol import HttpProtocol
    from .websocket import NativeWebSocket

__all__ = ["NativeSink"]

# Like aiohttp's AIOHTTP_NOSENDFILE: some filesystems and sandboxes break sendfile(2).
_SENDFILE = os.environ.get("ASGIWEB_NOSENDFILE", "") in ("", "0")


class NativeSink(HeldHeadSink[bytes]):
    """Frames a response onto the connection's transport; the held head is its bytes."""

    detects_disconnect = True
    __slots__ = ("_protocol", "_version", "_chunked", "keep_alive", "_continue_sent",
                 "finished", "framing", "adds_default_headers")  # fmt: skip

    def __init__(self, protocol: HttpProtocol, version: tuple[int, int]) -> None:
        # Not super().__init__(): a method looked up on a class is a specialised read
        # on CPython 3.11, on a super() object it is not. One sink per request.
        HeldHeadSink.__init__(self)
        # An instance value, not a class attribute, for the same reason: Response reads
        # it for every response.
        self.adds_default_headers = False
        self._protocol = protocol
        self._version = version
        self._chunked = False
        self.keep_alive = False
        self._continue_sent = False
        self.finished = False
        # Bytes sent besides the body (head, chunk sizes): aiohttp's body_length, which
        # the access log's %b prints, counts them.
        self.framing = 0

    def start(
        self,
        status: int,
        reason: str,
        headers: CIMultiDict[str],
        chunked: bool,
        keep_alive: bool,
        body_allowed: bool,
        flush: bool,
    ) -> None:
        self.started = True
        self._chunked = chunked
        # After a 101 the client speaks another protocol: no more HTTP on this connection.
        self.keep_alive = keep_alive and status != 101
        self._held = head = serialize_head(self._version, status, reason, headers.items())
        self.framing = len(head)

    async def _send_head(self, head: bytes) -> None:
        protocol = self._protocol
        protocol.write(head)
        if protocol._write_paused:
            await protocol.drain()

    async def write(self, data: bytes) -> None:
        if self._chunked:
            size = len(data)
            data = frame_chunk(data)
            self.framing += len(data) - size
        head = self._held
        if head is not None:
            self._held = None
            data = head + data
        protocol = self._protocol
        protocol.write(data)
        if protocol._write_paused:
            await protocol.drain()

    async def write_eof(self, data: bytes = b"") -> None:
        if self._chunked:
            size = len(data)
            data = frame_chunk(data) + LAST_CHUNK if data else LAST_CHUNK
            self.framing += len(data) - size
        head = self._held
        if head is not None:
            self._held = None
            data = head + data
        self.finished = True
        if data:
            protocol = self._protocol
            protocol.write(data)
            if protocol._write_paused:
                await protocol.drain()

    async def sendfile(self, file: BinaryIO, offset: int, count: int, chunk_size: int) -> None:
        protocol = self._protocol
        head = self._held or b""
        self._held = None
        sendfile = _SENDFILE and not self._chunked and count > 0
        if head and not sendfile:
            protocol.write(head)
        if count <= 0:
            return
        transport = protocol.transport
        if transport is None:
            raise ConnectionResetError("Connection lost")
        if sendfile:
            # Zero-copy where the OS allows: the head, then what the socket takes now,
            # straight away (often the whole file), then loop.sendfile for the rest, which
            # waits for room and falls back to read/write by itself (for TLS, for instance).
            sent = protocol.send_file_now(file, offset, count, head)
            if sent >= count:
                return
            offset += sent
            count -= sent
            # uvloop has no loop.sendfile at all: the rest is copied.
            try:
                await protocol._loop.sendfile(transport, file, offset, count)
                return
            except NotImplementedError:
                pass
        await copy_file(file, offset, count, chunk_size, self.write)

    async def send_continue(self) -> None:
        if not self.started and not self._continue_sent:
            self._continue_sent = True
            self._protocol.write(CONTINUE_100)

    def abort(self) -> None:
        self.keep_alive = False
        self._protocol.abort()

    def websocket(
        self, *, deflate: DeflateParams | None, max_msg_size: int, writer_limit: int
    ) -> NativeWebSocket | None:
        """The WebSocket channel for this request's connection, if it was an upgrade."""
        return self._protocol.open_websocket(
            deflate=deflate, max_msg_size=max_msg_size, writer_limit=writer_limit
        )
