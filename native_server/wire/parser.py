"""HTTP/1.1 request parsing on httptools (llhttp), with our own limits and checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple
from urllib.parse import quote

import httptools

from asgiweb.helpers import HttpVersion10, HttpVersion11
from asgiweb.transport import RequestHead, scan_headers

__all__ = ["ProtocolError", "RequestParser", "ConnectionInfo", "END_OF_MESSAGE"]


class ProtocolError(Exception):
    """The peer broke HTTP/1.1; answer with ``status`` and close the connection."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _EndOfMessage:
    __slots__ = ()

    def __repr__(self) -> str:
        return "END_OF_MESSAGE"


END_OF_MESSAGE: Final = _EndOfMessage()


class ConnectionInfo(NamedTuple):
    """What every request head of one connection shares."""

    scheme: str = "http"
    peername: Any = None
    sockname: Any = None
    transport: Any = None
    extra_info: Callable[[str, Any], Any] | None = None

_SAFE_TARGET = "!#$%&'()*+,/:;=?@[]~-._"


_VERSIONS = {"1.1": HttpVersion11, "1.0": HttpVersion10}


def _split_target(target: bytes, method: str) -> tuple[str, str]:
    """Path and query string of a request target (RFC 9112 3.2)."""
    text = target.decode("latin-1")
    if text[:1] == "/" and "#" not in text and text.isascii():
        path, _, query = text.partition("?")
        return path, query
    if not text.isascii():
        text = quote(target, safe=_SAFE_TARGET)
    if text.startswith("/"):
        path, _, query = text.partition("?")
        return path.partition("#")[0], query.partition("#")[0]
    if "://" in text:  # absolute-form, as sent to proxies
        rest = text.partition("://")[2]
        slash = rest.find("/")
        if slash == -1:
            path, query = "/", rest.partition("?")[2]
        else:
            path, _, query = rest[slash:].partition("?")
        return path, query
    if text == "*" and method == "OPTIONS":
        return "*", ""
    if method == "CONNECT":
        return text, ""
    raise ProtocolError(400, "Invalid request target")


class RequestParser:
    """Feed bytes, get back a list of events: :class:`RequestHead`, body ``bytes`` and
    :data:`END_OF_MESSAGE`, in wire order, for any number of pipelined requests.

    A :class:`ProtocolError` means the connection is beyond repair: answer and close.
    """

    def __init__(
        self,
        *,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        max_headers: int = 32768,
        connection: ConnectionInfo = ConnectionInfo(),  # noqa: B008 - an immutable tuple
    ) -> None:
        self.connection = connection
        self._max_line_size = max_line_size
        self._max_field_size = max_field_size
        self._max_headers = max_headers
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[object] = []
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._in_head = False
        self._line_length = 0
        self.upgraded = False
        #: Bytes after the head of an upgrade request (e.g. the first WebSocket frames).
        self.trailing = b""

    # -- httptools callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._line_length = 0
        self._headers = []
        self._in_head = True

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._max_line_size:
            raise ProtocolError(414, f"Request target is longer than {self._max_line_size} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) > self._max_field_size or len(value) > self._max_field_size:
            raise ProtocolError(431, f"Header field is longer than {self._max_field_size} bytes")
        headers = self._headers
        headers.append((name, value))
        if len(headers) > self._max_headers:
            raise ProtocolError(431, f"More than {self._max_headers} header fields")

    def on_headers_complete(self) -> None:
        self._in_head = False
        parser = self._parser
        method = parser.get_method().decode("ascii")
        version = _VERSIONS.get(parser.get_http_version())
        if version is None:
            raise ProtocolError(505, "HTTP version not supported")
        path, query = _split_target(self._url, method)
        hosts, has_body, expect, upgrade, _ = scan_headers(self._headers)
        # RFC 9112 3.2: exactly one Host in HTTP/1.1; several is a smuggling vector.
        if hosts != 1 and (hosts or version is HttpVersion11):
            raise ProtocolError(400, "Duplicate Host header" if hosts else "Missing Host header")
        if upgrade or method == "CONNECT":
            upgrade = parser.should_upgrade()
        conn = self.connection
        self._events.append(
            RequestHead(
                method,
                path,
                query,
                version,
                None,
                self._headers,
                conn.scheme,
                "",
                parser.should_keep_alive(),
                expect,
                conn.peername,
                conn.sockname,
                conn.transport,
                conn.extra_info,
                has_body,
                upgrade,
            )
        )

    def on_body(self, body: bytes) -> None:
        self._events.append(body)

    def on_message_complete(self) -> None:
        self._events.append(END_OF_MESSAGE)

    # -- feeding -----------------------------------------------------------------------
    def feed(self, data: bytes | memoryview) -> list[object]:
        """Parse ``data``; returns the events it completed. Nothing keeps ``data``."""
        if self.upgraded:
            raise RuntimeError("feed() after an upgrade: the bytes are no longer HTTP")
        events = self._events = []
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            self.upgraded = True
            self.trailing = bytes(data[offset:])  # data may be a view of a reused buffer
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, ProtocolError):
                raise cause from None
            raise
        except httptools.HttpParserInvalidMethodError:
            raise ProtocolError(400, "Invalid method") from None
        except httptools.HttpParserInvalidURLError:
            raise ProtocolError(400, "Invalid request target") from None
        except httptools.HttpParserError as exc:
            raise ProtocolError(*_classify(str(exc))) from None
        if self._in_head:
            self._check_partial_line(data)
        return events

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
        limit = max(self._max_line_size, self._max_field_size) + 2
        if self._line_length > limit:
            status = 414 if not self._headers else 431
            raise ProtocolError(status, f"Line is longer than {limit - 2} bytes")


def _classify(message: str) -> tuple[int, str]:
    lowered = message.lower()
    if "transfer-encoding" in lowered and "content-length" not in lowered:
        return 501, message  # RFC 9112 6.1: a transfer coding we do not implement
    return 400, message or "Bad request"
