"""HTTP/1.1 request parsing on httptools (llhttp), with our own limits and checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote

import httptools

from asgiweb.helpers import HttpVersion, HttpVersion10, HttpVersion11
from asgiweb.http.targets import split_absolute_form
from asgiweb.http.versions import HTTP1_VERSIONS
from asgiweb.http.versions import keep_alive as connection_persists
from asgiweb.transport import NONE_REMEMBERED as _NONE_REMEMBERED
from asgiweb.transport import RequestHead, blank_head, scan_headers

from .accel import speedups
from .events import END_OF_MESSAGE, Data, EndOfMessage, Event

__all__ = [
    "END_OF_MESSAGE",
    "ConnectionInfo",
    "Data",
    "EndOfMessage",
    "Event",
    "ProtocolError",
    "RequestParser",
]


class ProtocolError(Exception):
    """The peer broke HTTP/1.1; answer with ``status`` and close the connection.

    ``events`` are those the same :meth:`RequestParser.feed` completed before the fault:
    requests pipelined ahead of a bad one are still answered, in order, before it.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.events: list[Event] = []


class ConnectionInfo:
    """What every request head of one connection shares. Never changed once made.

    A class with slots, not a NamedTuple: its fields are read for every request, and
    CPython 3.11 specialises reads of slots but not of a NamedTuple's fields.
    """

    __slots__ = ("scheme", "peername", "sockname", "transport", "extra_info", "plain_head")

    def __init__(
        self,
        scheme: str = "http",
        peername: Any = None,
        sockname: Any = None,
        transport: Any = None,
        extra_info: Callable[[str, Any], Any] | None = None,
    ) -> None:
        self.scheme = scheme
        self.peername = peername
        self.sockname = sockname
        self.transport = transport
        self.extra_info = extra_info
        #: The head every plain request on this connection has but for its request line
        #: and fields: the accelerator copies it for each (see simple_head.simple_heads).
        head = self.plain_head = _head(
            self, [], _NONE_REMEMBERED, "GET", "/", "", HttpVersion11, scheme
        )
        # HTTP/1.1 with no Connection, or keep-alive: it persists; no body, no
        # expectation, no upgrade (what on_headers_complete would make of a plain head).
        head.keep_alive = True
        head.expect = head.has_body = head.upgrade = False
        head.authority = None


_SAFE_TARGET = "!#$%&'()*+,/:;=?@[]~-._"

#: aiohttp's default header count (3.13 branch and later): past it, 400 "Too many headers".
DEFAULT_MAX_HEADERS: Final = 128

#: The floor of the bound on a whole head (request line, fields and trailers of a message).
#: The field count alone is a poor bound (128 fields of 8 KiB is 1 MiB a connection), and
#: real heads are small: h11 (hence hypercorn, and uvicorn's h11 mode) refuses a head over
#: 16 KiB, nginx's default buffers hold 32 KiB. 64 KiB leaves room for big cookies and tokens;
#: see RequestParser for how it grows with the field limits.
MIN_MAX_HEAD_SIZE: Final = 64 * 1024

# A Host value is host[:port] (RFC 9112 3.2, RFC 3986 3.2.2): an IP-literal in brackets or a
# reg-name / IPv4 address (unreserved, pct-encoded and sub-delims), then an optional port.
# Empty is allowed: a target without an authority sends an empty Host.
_VALID_HOST = re.compile(
    rb"(?:\[[0-9A-Za-z:.\-_~!$&'()*+,;=%]+\]|[0-9A-Za-z.\-_~!$&'()*+,;=%]*)(?::[0-9]*)?"
).fullmatch


def _split_target(target: bytes, method: str) -> tuple[str, str, str | None, str | None]:
    """Path, query string, scheme and authority of a request target (RFC 9112 3.2).

    Scheme and authority are None unless the target is in absolute-form.
    """
    text = target.decode("latin-1")
    if not text.isascii():
        text = quote(target, safe=_SAFE_TARGET)
    if text.startswith("/"):
        path, _, query = text.partition("?")
        return path.partition("#")[0], query.partition("#")[0], None, None
    absolute = split_absolute_form(text)
    if absolute is not None:
        scheme, authority, path, query = absolute
        return path, query, scheme, authority
    if text == "*" and method == "OPTIONS":
        return "*", "", None, None
    if method == "CONNECT":
        return text, "", None, None
    raise ProtocolError(400, "Invalid request target")


class RequestParser:
    """Feed bytes, get back a list of :data:`~native_server.wire.events.Event`: a
    :class:`RequestHead`, body ``bytes`` and :data:`END_OF_MESSAGE` per request, in wire
    order, for any number of pipelined requests.

    A :class:`ProtocolError` means the connection is beyond repair: answer and close.
    """

    def __init__(
        self,
        *,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        max_headers: int = DEFAULT_MAX_HEADERS,
        max_head_size: int | None = None,
        connection: ConnectionInfo | None = None,
    ) -> None:
        self.connection = ConnectionInfo() if connection is None else connection
        self._max_line_size = max_line_size
        self._max_field_size = max_field_size
        self._max_headers = max_headers
        # The longest unfinished line worth waiting for: a request line with a target of
        # max_line_size, or a name and a value of max_field_size each with ": " and CRLF.
        self._max_partial_line = max(max_line_size + 32, 2 * max_field_size + 4)
        if max_head_size is None:
            # Always room for a full request line and four fields at their limits, so
            # raising max_field_size or max_line_size never makes a lone big field fail.
            max_head_size = max(MIN_MAX_HEAD_SIZE, max_line_size + 4 * self._max_partial_line)
        #: Bytes of request line and fields (or of trailer fields) allowed in one message.
        self._max_head_size = max_head_size
        # The head is measured only when it may be over the bound: it spanned several
        # feeds (``_spanned``), or one feed was larger than the bound. ``_head_size`` counts
        # the request line and the first ``_sized`` fields.
        self._spanned = False
        self._sized = 0
        self._head_size = 0
        self._feed_size = 0
        # True while an unfinished line is a head or trailer line (measured after each feed),
        # False in a body, whose bytes need no line ending.
        self._watch_line = False
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[Event] = []
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        #: True while a request head has begun and not ended (it continues in a later feed).
        self.head_pending = False
        self._line_length = 0
        #: True once HTTP is over: an upgrade request's head and body have been read.
        self.upgraded = False
        #: Bytes after an upgrade request (e.g. the first WebSocket frames).
        self.trailing = b""
        # Body bytes still due from an upgrade request: llhttp (as httptools drives it)
        # stops at an upgrade head, so its Content-Length body is counted out here.
        self._upgrade_body = 0
        # The accelerator's reader of plain heads (native_server/wire/simple_head.py), used
        # while llhttp is between messages: it reads what llhttp would, without a Python
        # call per field. None without the accelerator, and after llhttp has read a
        # message that ends the connection (it refuses whatever follows, so must see it).
        self._simple: Any = _SIMPLE_HEADS
        self._between = True  # llhttp has no unfinished message

    # -- httptools callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._between = False
        self._url = b""
        self._line_length = 0
        self._headers = []
        self.head_pending = True
        self._watch_line = True
        self._spanned = False

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._max_line_size:
            raise ProtocolError(414, f"Request target is longer than {self._max_line_size} bytes")

    # 400, not 431 (RFC 6585), for the header limits: aiohttp's status and reason, which an
    # aiohttp application and its tests expect. (uvicorn sets no header limit; hypercorn
    # answers 431 past h11's buffer.)
    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) > self._max_field_size:
            raise ProtocolError(400, _too_long("Header name", self._max_field_size, len(name)))
        if len(value) > self._max_field_size:
            raise ProtocolError(400, _too_long("Header value", self._max_field_size, len(value)))
        if len(name) == 4 and value not in _GOOD_HOSTS and name.lower() == b"host":
            _check_host(value)
        # After a chunked body's head, ``_headers`` is a list of trailers, never exposed.
        headers = self._headers
        headers.append((name, value))
        if len(headers) > self._max_headers:
            # (aiohttp says "Too many headers received"; tests of ours match this wording)
            raise ProtocolError(400, f"Too many headers: more than {self._max_headers}")

    def on_chunk_header(self) -> None:
        # A chunk-size line was read; the chunk's data (which resets this) or, after the
        # last chunk, trailer lines follow. Trailer fields (only a chunked body has them) go
        # to a list of their own, counted and measured like the head's, then dropped.
        # RFC 9110 6.5.1: trailers must never be merged into the header section (a trailing
        # Host or Content-Length would rewrite what the request was routed and framed by),
        # and a recipient may discard them.
        self._watch_line = True
        self._headers = []
        self._spanned = False

    def on_headers_complete(self) -> None:
        self.head_pending = False
        self._watch_line = False
        parser = self._parser
        method = parser.get_method().decode("ascii")
        version = HTTP1_VERSIONS.get(parser.get_http_version())
        if version is None:
            raise ProtocolError(505, "HTTP version not supported")
        conn = self.connection
        scheme = conn.scheme
        authority = None
        text = self._url.decode("latin-1")
        if text[:1] == "/" and "#" not in text and text.isascii():  # origin-form: the usual
            path, _, query = text.partition("?")
        else:
            path, query, target_scheme, authority = _split_target(self._url, method)
            if target_scheme is not None:
                scheme = target_scheme
        hosts, has_body, expect, upgrade, connection, first = scan_headers(self._headers)
        # RFC 9112 3.2: exactly one Host in HTTP/1.1; several is a smuggling vector.
        if hosts != 1 and (hosts or version is HttpVersion11):
            raise ProtocolError(400, "Duplicate Host header" if hosts else "Missing Host header")
        if has_body:
            _check_transfer_coding(self._headers, version)
        if self._spanned or self._feed_size > self._max_head_size:
            self._measure_head()
        # The rule both paths share, not llhttp's should_keep_alive(): llhttp keeps an
        # HTTP/1.0 "close, keep-alive" open and reads the obsolete Proxy-Connection.
        keep_alive = connection_persists(version, connection)
        if upgrade or method == "CONNECT":
            upgrade = parser.should_upgrade()
            if upgrade and has_body:
                self._upgrade_body = _upgrade_body_length(self._headers)
            if upgrade and method == "CONNECT":
                # We serve no tunnels: what follows a CONNECT may be the tunnel's bytes,
                # never safe to read as HTTP, so the answer says the connection closes.
                keep_alive = False
        head = _head(conn, self._headers, first, method, path, query, version, scheme)
        head.keep_alive = keep_alive
        head.expect = expect
        head.has_body = has_body
        head.upgrade = upgrade
        head.authority = authority
        self._events.append(head)

    def on_body(self, body: Data) -> None:
        self._watch_line = False
        self._events.append(body)

    def on_message_complete(self) -> None:
        self._between = True
        if self._simple is not None and not self._parser.should_keep_alive():
            self._simple = None
        if self._watch_line and (self._spanned or self._feed_size > self._max_head_size):
            # Trailers that ended in this feed: bounded as in one read as in many.
            self._measure_head()
        self._watch_line = False
        if not self._upgrade_body:  # else the message ends after the body counted in feed()
            self._events.append(END_OF_MESSAGE)

    # -- feeding -----------------------------------------------------------------------
    def close(self) -> None:
        """Let go of what would keep the connection alive in reference cycles, left for
        the garbage collector otherwise: the llhttp parser (it holds this object's
        callbacks), the last events, and the transport and ``extra_info`` callable of
        :attr:`connection`. No :meth:`feed` after this."""
        vars(self).pop("_parser", None)
        conn = self.connection
        self.connection = ConnectionInfo(conn.scheme, conn.peername, conn.sockname)
        self._events = []
        self._headers = []

    def feed(self, data: bytes | memoryview) -> list[Event]:
        """Parse ``data``; returns the events it completed. Nothing keeps ``data``."""
        if self.upgraded:
            raise RuntimeError("feed() after an upgrade: the bytes are no longer HTTP")
        events = self._events = []
        if self._upgrade_body:
            self._feed_size = len(data)
            self._upgrade_body_received(data)
            return events
        if self._between and self._simple is not None:
            # The plain heads at the start of data in one C call (see simple_head.py).
            taken = self._simple(
                data,
                0,
                self._max_line_size,
                self._max_field_size,
                self._max_headers,
                self._max_head_size,
                self.connection.plain_head,
                events,
                END_OF_MESSAGE,
            )
            if taken:
                if taken == len(data):
                    return events
                data = data[taken:]  # the rest, for llhttp to begin at a message boundary
        self._feed_size = len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            self._upgrade_body_received(data[offset:])
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, ProtocolError):
                cause.events = events  # what came before the fault is still served
                raise cause from None
            raise
        except httptools.HttpParserInvalidMethodError:
            raise _refused(events, 400, "Invalid method") from None
        except httptools.HttpParserInvalidURLError:
            raise _refused(events, 400, "Invalid request target") from None
        except httptools.HttpParserError as exc:
            raise _refused(events, *_classify(str(exc))) from None
        if self._watch_line:  # a head, or trailers, continue in the next read
            try:
                self._check_partial_line(data)
                self._measure_head()
            except ProtocolError as exc:
                exc.events = events
                raise
            self._spanned = True
        return events

    def _measure_head(self) -> None:
        """431 once the request line and fields read so far (or the trailer fields) are
        over ``max_head_size``; counts only the fields not measured before."""
        headers = self._headers
        if not self._spanned:  # first measure of this head (or of these trailers)
            self._sized = 0
            self._head_size = len(self._url) if self.head_pending else 0
        size = self._head_size
        for name, value in headers[self._sized :]:
            size += len(name) + len(value) + 4
        self._head_size = size
        self._sized = len(headers)
        if size > self._max_head_size:
            raise ProtocolError(
                431, f"Request header fields too large: more than {self._max_head_size} bytes"
            )

    def _upgrade_body_received(self, data: bytes | memoryview) -> None:
        """Bytes after an upgrade head: its body first, then the new protocol's."""
        due = self._upgrade_body
        if due:
            body = bytes(data[:due])  # data may be a view of a reused buffer
            data = data[due:]
            self._upgrade_body = due = due - len(body)
            if body:
                self._events.append(body)
            if due:
                return
            self._events.append(END_OF_MESSAGE)
        self.upgraded = True
        self.trailing = bytes(data)

    def _check_partial_line(self, data: bytes | memoryview) -> None:
        # httptools buffers an unfinished line without bound; measure it ourselves so a
        # line trickled in over many reads still meets the limit.
        if data.__class__ is not bytes:
            data = bytes(data)  # a view of the read buffer: rare here, a head cut mid-line
        newline = data.rfind(b"\n")
        if newline == -1:
            self._line_length += len(data)
        else:
            self._line_length = len(data) - newline - 1
        if self._line_length > self._max_partial_line:
            # on_url has already measured a request target cut mid-line; this is a header
            # or trailer line.
            raise ProtocolError(
                400, _too_long("Header line", self._max_partial_line, self._line_length)
            )


def _head(
    conn: ConnectionInfo,
    fields: list[tuple[bytes, bytes]],
    first: dict[bytes, bytes],
    method: str,
    path: str,
    query: str,
    version: HttpVersion,
    scheme: str,
) -> RequestHead:
    """A head with the fields every request sets; the caller sets the rest (keep_alive,
    expect, has_body, upgrade, authority).

    Every field by name on a blank head: calling ``RequestHead()`` with keywords costs
    1.5 us more a request on CPython 3.11 (positionally, 16 arguments nobody can read).
    Headers are built from the raw pairs on demand.
    """
    head = blank_head(fields)
    head._first = first
    head.method = method
    head.path = path
    head.query_string = query
    head.version = version
    head.scheme = scheme
    head.root_path = ""
    head.peername = conn.peername
    head.sockname = conn.sockname
    head.transport = conn.transport
    head.extra_info = conn.extra_info
    return head


def _refused(events: list[Event], status: int, reason: str) -> ProtocolError:
    error = ProtocolError(status, reason)
    error.events = events  # what came before the fault is still served
    return error


def _too_long(what: str, limit: int, size: int) -> str:
    # aiohttp's wording, so a client or log sees the same reason on either server.
    return f"Got more than {limit} bytes ({size}) when reading {what} is too long."


def _check_host(value: bytes) -> None:
    """400 unless a Host value is host[:port] (RFC 9112 3.2); remembers good ones."""
    if _VALID_HOST(value) is None:
        raise ProtocolError(400, "Invalid Host header")
    if len(_GOOD_HOSTS) < 256 and len(value) <= 255:  # bounded, whatever is sent
        _GOOD_HOSTS.add(value)


def _check_transfer_coding(headers: list[tuple[bytes, bytes]], version: object) -> None:
    """Refuse a Transfer-Encoding we would mishandle.

    llhttp decodes ``chunked`` only and would hand a handler the still-encoded bytes of any
    other coding: RFC 9112 6.1 says answer 501. A Transfer-Encoding in an HTTP/1.0 message
    frames it in a way an HTTP/1.0 hop may not understand (a smuggling vector): the server
    must close after it (RFC 9112 6.1); we refuse it (400), so its body is never read as
    further requests.
    """
    codings = None
    for name, value in headers:
        if len(name) == 17 and name.lower() == b"transfer-encoding":
            codings = value if codings is None else codings + b"," + value
    if codings is None:
        return  # a Content-Length body
    if version is HttpVersion10:
        raise ProtocolError(400, "Transfer-Encoding in an HTTP/1.0 request")
    if codings.strip().lower() == b"chunked":
        return
    # A list, its empty elements ignored (RFC 9110 5.6.1). llhttp has already refused most
    # malformed lists; these checks do not depend on it.
    listed = [c.strip(b" \t").lower() for c in codings.split(b",")]
    listed = [c for c in listed if c]
    if listed == [b"chunked"]:
        return
    if listed.count(b"chunked") != 1 or listed[-1] != b"chunked":
        # RFC 9112 6.3: chunked not final, the length is unknown: 400 (a MUST), and 6.1:
        # never chunked twice.
        raise ProtocolError(400, _BAD_CODINGS)
    raise ProtocolError(501, "Transfer-Encoding other than chunked is not implemented")


_BAD_CODINGS: Final = "Transfer-Encoding without chunked as its only final coding"


# Host values seen valid: a site sees few, so most requests skip the regex.
_GOOD_HOSTS: set[bytes] = set()

_SIMPLE_HEADS = speedups.simple_heads if speedups is not None else None


def _upgrade_body_length(headers: list[tuple[bytes, bytes]]) -> int:
    """The Content-Length of an upgrade request that has a body (llhttp checked it)."""
    length = 0
    for name, value in headers:
        lname = name.lower()
        if lname == b"transfer-encoding":
            # llhttp skips an upgrade request's body; chunks we do not decode ourselves.
            raise ProtocolError(501, "Transfer-Encoding on an upgrade request")
        if lname == b"content-length":
            length = int(value)
    return length


def _classify(message: str) -> tuple[int, str]:
    # llhttp refuses a Transfer-Encoding only when chunked is not its final coding, or is
    # there twice (a coding it does not know, before chunked, it accepts: see
    # _check_transfer_coding). RFC 9112 6.3 asks 400 for that, not 501.
    return 400, message or "Bad request"
