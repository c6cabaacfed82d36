"""FileResponse: a file sent with validators, conditional requests, one byte range and
pre-compressed siblings, its body handed to the sink's ``sendfile`` (or, whole and
unchanged, to ``send_path`` where the transport can send a file by name)."""

from __future__ import annotations

import asyncio
import datetime
import errno
import io
import math
import mimetypes
import os
import stat
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, cast

from . import cached_open, hdrs
from .http.codings import accepted_codings
from .http.request_headers import ETag, parse_etag
from .http.response_headers import imf_fixdate
from .response import StreamResponse
from .streams import copy_file

if TYPE_CHECKING:
    from .request import BaseRequest
    from .transport import PathSendingSink, ResponseSink

__all__ = ["FileResponse"]

# Pre-compressed siblings in order of preference: Brotli, then gzip (as aiohttp).
_SIBLINGS = (("br", ".br"), ("gzip", ".gz"))
# What a compressed file served as itself is (aiohttp's types, observed).
_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "br": "application/x-brotli",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
}
# Opening never blocks on a FIFO swapped in after the stat; no effect on regular files.
_OPEN_FLAGS = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# Paths that cannot name a file: answered 404 like a missing one.
_NOT_FOUND_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG})


class _NotServable(Exception):
    """The path names no file we may send: ``status`` says why (404 or 403)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Unsatisfiable(Exception):
    """The Range header asks for nothing this file has (416)."""


class _Opened(NamedTuple):
    file: BinaryIO
    size: int
    mtime: float
    mtime_ns: int
    content_type: str
    coding: str | None
    #: The absolute name the file was opened by (the ASGI pathsend extension sends it).
    path: str


def guess_content_type(path: str) -> str:
    """The media type of ``path`` from its name; octet-stream when unknown."""
    ctype, encoding = mimetypes.guess_type(path)
    if encoding is not None:
        # "x.tar.gz" is a gzip file to a client that did not ask for the tar inside.
        return _ENCODING_TYPES.get(encoding, "application/octet-stream")
    return ctype or "application/octet-stream"


def _inside(directory: str, path: str) -> bool:
    root = directory.rstrip(os.sep)
    return path == directory or path.startswith(root + os.sep)


def _open_regular(path: str, flags: int, coding: str | None, content_type: str) -> _Opened:
    """Open ``path`` if it is a regular file; raise :class:`_NotServable` otherwise."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise _NotServable(403)  # a directory, FIFO or device is never a body
        file = open(path, "rb", opener=lambda name, mode: os.open(name, mode | flags))
    except (IsADirectoryError, PermissionError):
        raise _NotServable(403) from None
    except OSError as exc:
        if exc.errno in _NOT_FOUND_ERRNOS:
            raise _NotServable(404) from None
        raise
    try:
        # Size and times from the descriptor we send from, not from the name.
        st = os.fstat(file.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise _NotServable(403)
    except BaseException:
        file.close()
        raise
    return _Opened(file, st.st_size, st.st_mtime, st.st_mtime_ns, content_type, coding, path)


def _open_sibling(path: str, coding: str, suffix: str, content_type: str) -> _Opened | None:
    sibling = path + suffix
    try:
        if not stat.S_ISLNK(os.lstat(sibling).st_mode):
            # Refuse a symlink swapped in after the lstat.
            return _open_regular(sibling, _OPEN_FLAGS | _NOFOLLOW, coding, content_type)
        # A symlinked sibling is fine only while it stays in the file's directory.
        target = os.path.realpath(sibling)
        if not _inside(os.path.realpath(os.path.dirname(os.path.abspath(path))), target):
            return None
        return _open_regular(target, _OPEN_FLAGS | _NOFOLLOW, coding, content_type)
    except (OSError, _NotServable):
        return None


def open_file(path: str, codings: frozenset[str]) -> _Opened:
    """Open the best representation of ``path`` for ``codings``. Runs in a thread."""
    path = os.path.abspath(path)  # the ASGI pathsend extension wants an absolute name
    content_type = guess_content_type(path)
    for coding, suffix in _SIBLINGS:
        if coding in codings:
            opened = _open_sibling(path, coding, suffix, content_type)
            if opened is not None:
                return opened
    return _open_regular(path, _OPEN_FLAGS, None, content_type)


def open_file_cached(path: str, codings: frozenset[str]) -> _Opened | None:
    """:func:`open_file` on the event loop, for a file whose names the kernel has cached:
    the same file (or sibling) it would open, or None to leave the answer to
    :func:`open_file` in a thread (a name not cached, an error to answer, a symlinked
    sibling, anything but a regular file), so only the plain success is decided here."""
    if not cached_open.supported():
        return None
    path = os.path.abspath(path)
    content_type = guess_content_type(path)
    try:
        for coding, suffix in _SIBLINGS:
            if coding in codings:
                sibling = path + suffix
                kind = _cached_kind(sibling, _NOFOLLOW)
                if kind is None:
                    continue  # no usable sibling: open_file skips it too
                if stat.S_ISLNK(kind):
                    return None  # open_file follows it within the directory: its call
                if stat.S_ISREG(kind):
                    opened = _open_cached_regular(sibling, _NOFOLLOW, coding, content_type)
                    if opened is not None:
                        return opened
        kind = _cached_kind(path, 0)
        if kind is None or not stat.S_ISREG(kind):
            return None  # 404, 403: open_file words the answer
        return _open_cached_regular(path, 0, None, content_type)
    except BlockingIOError:
        return None  # a name the kernel would read from the disk


def _cached_kind(path: str, nofollow: int) -> int | None:
    """The file type bits of ``path`` (of the link itself with ``nofollow``), from cached
    names only; None where ``os.lstat``/``os.stat`` would fail. BlockingIOError: not cached."""
    try:
        fd = cached_open.open_cached(path, os.O_PATH | os.O_CLOEXEC | nofollow)
    except BlockingIOError:
        raise
    except OSError:
        return None
    try:
        return os.fstat(fd).st_mode
    finally:
        os.close(fd)


def _open_cached_regular(
    path: str, nofollow: int, coding: str | None, content_type: str
) -> _Opened | None:
    """:func:`_open_regular`'s success, from cached names only; None for its failures."""
    try:
        fd = cached_open.open_cached(path, os.O_RDONLY | _OPEN_FLAGS | nofollow)
    except BlockingIOError:
        raise
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return None
        # Over the descriptor we have. The buffer size given spares the tty test, and a
        # descriptor (not an opener) the inheritable flag O_CLOEXEC already cleared: two
        # system calls fewer for every file response. The name is open_file's.
        file = open(fd, "rb", buffering=io.DEFAULT_BUFFER_SIZE)  # noqa: SIM115
        file.raw.name = path  # type: ignore[attr-defined]
    except BaseException:
        os.close(fd)
        raise
    return _Opened(file, st.st_size, st.st_mtime, st.st_mtime_ns, content_type, coding, path)


def _close_opened(future: asyncio.Future[_Opened]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().file.close()


class FileResponse(StreamResponse):
    """A response whose body is the file at ``path``, sent by :meth:`prepare`."""

    # The head goes out with the body (or the empty end): one write where the sink can.
    _flush_head = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        chunk_size: int = 256 * 1024,
        status: int = 200,
        reason: str | None = None,
        headers: Any = None,
    ) -> None:
        super().__init__(status=status, reason=reason, headers=headers)
        self._path = path
        self._chunk_size = chunk_size

    async def prepare(self, request: BaseRequest) -> ResponseSink | None:
        """Check the file and the request's conditions, send the head, then the body."""
        if self.prepared:
            return await super().prepare(request)
        codings = accepted_codings(request.headers.get(hdrs.ACCEPT_ENCODING, ""))
        path = os.fspath(self._path)
        # A file whose names the kernel has cached is opened here, sparing the request a
        # thread's round trip (a tenth of a 1 MiB file's CPU, natively); anything else,
        # and every answer but the file itself, in a thread.
        opened = open_file_cached(path, codings)
        if opened is None:
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(None, open_file, path, codings)
            try:
                opened = await asyncio.shield(future)
            except asyncio.CancelledError:
                future.add_done_callback(_close_opened)  # the thread may still open it
                raise
            except _NotServable as exc:
                return await self._prepare_empty(request, exc.status)
        try:
            return await self._prepare_file(request, opened)
        finally:
            opened.file.close()

    async def _prepare_file(self, request: BaseRequest, opened: _Opened) -> ResponseSink | None:
        etag = f"{opened.mtime_ns:x}-{opened.size:x}"
        # Whole seconds, as the Last-Modified header carries them.
        modified = math.ceil(opened.mtime)
        headers = self._headers
        status = _precondition_status(request, etag, modified)
        if status == 412:
            return await self._prepare_empty(request, 412)
        part = None
        if status is None:
            try:
                part = _byte_range(request, etag, modified, opened.size)
            except _Unsatisfiable:
                headers[hdrs.CONTENT_RANGE] = f"bytes */{opened.size}"
                return await self._prepare_empty(request, 416)
        if opened.coding is not None:
            headers[hdrs.CONTENT_ENCODING] = opened.coding
            headers.add(hdrs.VARY, hdrs.ACCEPT_ENCODING)
            self._compression = False  # already compressed on disk
        # What the etag and last_modified setters would write, without their checks and
        # conversions: the tag is hex digits and a dash, the time whole seconds.
        headers[hdrs.ETAG] = f'"{etag}"'
        headers[hdrs.LAST_MODIFIED] = imf_fixdate(modified)
        if status == 304:
            return await self._prepare_empty(request, 304)  # no body, so no Content-Type
        headers.setdefault(hdrs.CONTENT_TYPE, opened.content_type)
        offset, count = part if part is not None else (0, opened.size)
        headers[hdrs.CONTENT_LENGTH] = str(count)
        headers[hdrs.ACCEPT_RANGES] = "bytes"
        if part is not None:
            self.set_status(206)
            headers[hdrs.CONTENT_RANGE] = f"bytes {offset}-{offset + count - 1}/{opened.size}"
        sink = await super().prepare(request)
        if sink is not None and not self._must_be_empty_body and count:
            await self._send_body(sink, opened, offset, count, whole=part is None)
        return sink

    async def _send_body(
        self, sink: ResponseSink, opened: _Opened, offset: int, count: int, whole: bool
    ) -> None:
        file = opened.file
        try:
            if self._compressor is not None:
                # enable_compression(): the bytes must pass through write() to be compressed.
                await copy_file(file, offset, count, self._chunk_size, self.write)
                return
            self._body_length += count
            if self._length_left is not None:
                self._length_left -= count
            # The file as it is on disk, whole: a transport that can may send it by name
            # (the server reopens it). getattr: the hook is optional, as sink.websocket.
            if whole and getattr(sink, "can_send_path", False):
                await cast("PathSendingSink", sink).send_path(opened.path)
            else:
                await sink.sendfile(file, offset, count, self._chunk_size)
        except asyncio.CancelledError:
            # Cut short after the head went out: the client must see the body end with
            # the connection rather than wait for bytes that never come.
            sink.abort()
            raise

    async def _prepare_empty(self, request: BaseRequest, status: int) -> ResponseSink | None:
        self.set_status(status)
        self._compression = False
        self._headers[hdrs.CONTENT_LENGTH] = "0"
        return await super().prepare(request)


def _precondition_status(request: BaseRequest, etag: str, modified: int) -> int | None:
    """412 or 304 as RFC 9110 13.2.2 orders the conditions; None to send the file."""
    headers = request.headers
    if not (
        hdrs.IF_MATCH in headers
        or hdrs.IF_NONE_MATCH in headers
        or hdrs.IF_MODIFIED_SINCE in headers
        or hdrs.IF_UNMODIFIED_SINCE in headers
    ):
        return None  # most requests: four lookups rather than four parsed properties
    if_match: tuple[ETag, ...] | None = request.if_match
    if if_match is not None:
        # Strong comparison: a weak tag never matches If-Match.
        if not any(tag.value == "*" or (tag.value == etag and not tag.is_weak) for tag in if_match):
            return 412
    else:
        since: datetime.datetime | None = request.if_unmodified_since
        if since is not None and modified > since.timestamp():
            return 412
    if_none_match: tuple[ETag, ...] | None = request.if_none_match
    if if_none_match is not None:
        # Weak comparison (RFC 9110 13.1.2).
        if any(tag.value == "*" or tag.value == etag for tag in if_none_match):
            return 304 if request.method in (hdrs.METH_GET, hdrs.METH_HEAD) else 412
    else:
        since = request.if_modified_since
        if since is not None and modified <= since.timestamp():
            return 304
    return None


def _byte_range(
    request: BaseRequest, etag: str, modified: int, size: int
) -> tuple[int, int] | None:
    """``(offset, count)`` of the one range to send; None to send the whole file."""
    if hdrs.RANGE not in request.headers or not _if_range_holds(request, etag, modified):
        return None
    try:
        rng: slice = request.http_range
    except ValueError:
        # Malformed or several ranges: aiohttp answers 416 rather than ignoring them.
        raise _Unsatisfiable from None
    start: int = rng.start
    end: int | None = rng.stop
    if start < 0:  # a suffix: the last -start bytes, all of them if the file is shorter
        start = max(size + start, 0)
    if end is None or end > size:
        end = size
    if start >= size:
        raise _Unsatisfiable
    return start, end - start


def _if_range_holds(request: BaseRequest, etag: str, modified: int) -> bool:
    """Whether the Range applies: no If-Range, or one naming this version of the file."""
    value = request.headers.get(hdrs.IF_RANGE)
    if value is None:
        return True
    tag = parse_etag(value)
    if tag is not None:
        return tag.value == etag and not tag.is_weak  # RFC 9110 13.1.5: strong only
    date: datetime.datetime | None = request.if_range
    if date is not None:
        return modified <= date.timestamp()  # aiohttp's rule, observed
    return False  # a validator we cannot read never matches: send the whole file
