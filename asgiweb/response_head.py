"""The head of a response: its status, its header fields read and set as values
(Content-Type and charset, Content-Length, Last-Modified, ETag, cookies), and the
HTTP/1.1 rules that complete it (framing, keep-alive, defaults) as it goes out."""

from __future__ import annotations

import datetime
import sys
import warnings
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final

from multidict import CIMultiDict, CIMultiDictProxy
from multidict import getversion as _getversion

from . import hdrs
from .helpers import HttpVersion, HttpVersion10, HttpVersion11, http_date
from .http.cookies import EXPIRED, ResponseCookies
from .http.request_headers import ETAG_ANY, ETag, parse_etag
from .http.response_headers import (
    REASONS,
    check_headers,
    checked_reason,
    etag_value,
    last_modified_value,
)

if TYPE_CHECKING:
    from .request import BaseRequest
    from .transport import ResponseSink

__all__ = [
    "BODILESS",
    "SERVER_SOFTWARE",
    "ResponseHead",
    "SentHeaders",
    "add_server_headers",
    "getversion",
]

SERVER_SOFTWARE = f"Python/{sys.version_info[0]}.{sys.version_info[1]} asgiweb/0.1.0"
# Statuses whose responses carry no body (RFC 9110 6.4.1).
BODILESS: Final = frozenset((204, 304, *range(100, 200)))
# multidict's own mutation counter; typed loosely (its stub wants MultiDict[object]).
getversion: Callable[[Any], int] = _getversion

_SENT = "Cannot change the response headers after they have been sent"
_NO_CHUNKED = "Using chunked encoding is forbidden for HTTP/{}.{}"


class SentHeaders(CIMultiDictProxy[str]):
    """The headers of a prepared response: readable, and any change raises RuntimeError,
    as documented for StreamResponse (the head is already on the wire)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(_SENT)

    __setitem__ = __delitem__ = add = extend = update = setdefault = _refuse
    pop = popone = popall = popitem = clear = merge = _refuse


class ResponseHead:
    """The head of :class:`~asgiweb.response.StreamResponse`; each setter refuses once
    the head has been sent."""

    _headers: CIMultiDict[str]
    _status: int
    _reason: str
    _sink: ResponseSink | None
    _eof_sent: bool
    _cookies: ResponseCookies | None = None
    _must_be_empty_body = False
    _keep_alive: bool | None = None
    _chunked = False
    # The multidict version at which the headers held only values we made or checked:
    # while it still matches, check_headers() has nothing to find.
    _trusted = -1

    def _init_status(self, status: int, reason: str | None) -> None:
        # The common status with its standard reason needs no validation.
        if reason is None and status in REASONS:
            self._status = status
            self._reason = REASONS[status]
        else:
            self.set_status(status, reason)

    # -- status -----------------------------------------------------------------------
    @property
    def prepared(self) -> bool:
        """True once :meth:`prepare` has sent (or queued) the head."""
        return self._eof_sent or self._sink is not None

    @property
    def status(self) -> int:
        return self._status

    @property
    def reason(self) -> str:
        return self._reason

    def set_status(self, status: int, reason: str | None = None) -> None:
        """Set status and reason; only before :meth:`prepare`."""
        if self.prepared:
            raise RuntimeError(
                "Cannot change the response status code after the headers have been sent"
            )
        status = int(status)
        if not 100 <= status <= 999:
            raise ValueError(f"Invalid status code {status}")
        self._status = status
        self._reason = checked_reason(status, reason)

    # -- connection and framing ------------------------------------------------------------
    @property
    def keep_alive(self) -> bool | None:
        return self._keep_alive

    def force_close(self) -> None:
        """Close the connection after this response."""
        self._keep_alive = False

    @property
    def chunked(self) -> bool:
        return self._chunked

    def enable_chunked_encoding(self, chunk_size: int | None = None) -> None:
        """Send the body with chunked transfer encoding.

        After :meth:`prepare` the framing has been sent and nothing changes; like aiohttp,
        that is no error (aiohttp-sse calls it then).
        """
        if chunk_size is not None:
            warnings.warn("Chunk size is deprecated #1615", DeprecationWarning, stacklevel=2)
        if hdrs.CONTENT_LENGTH in self._headers:
            raise RuntimeError("You can't enable chunked encoding when a content length is set")
        if self._sink is None and not self._eof_sent:
            self._chunked = True

    # -- header fields --------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self._sink is not None or self._eof_sent:
            raise RuntimeError(_SENT)

    @property
    def headers(self) -> CIMultiDict[str]:
        if self._sink is not None or self._eof_sent:
            return SentHeaders(self._headers)  # type: ignore[return-value]
        return self._headers

    # -- cookies ------------------------------------------------------------------------
    @property
    def cookies(self) -> ResponseCookies:
        """The outgoing cookies (an ``http.cookies.SimpleCookie``)."""
        if self._cookies is None:
            self._cookies = ResponseCookies()
        return self._cookies

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        expires: str | None = None,
        domain: str | None = None,
        max_age: int | str | None = None,
        path: str = "/",
        secure: bool | None = None,
        httponly: bool | None = None,
        version: str | None = None,
        samesite: str | None = None,
        partitioned: bool | None = None,
    ) -> None:
        """Set or replace a cookie; only before :meth:`prepare`."""
        self._check_writable()
        self.cookies.set(
            name,
            value,
            expires=expires,
            domain=domain,
            max_age=max_age,
            path=path,
            secure=secure,
            httponly=httponly,
            version=version,
            samesite=samesite,
            partitioned=partitioned,
        )

    def del_cookie(
        self,
        name: str,
        *,
        path: str = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool | None = None,
        samesite: str | None = None,
    ) -> None:
        """Ask the client to delete a cookie (an expired, empty one replaces it); a
        ``SameSite=None`` cookie is only deleted by one with the same attributes."""
        self._check_writable()
        self.cookies.pop(name, None)
        self.set_cookie(
            name, "", max_age=0, expires=EXPIRED, domain=domain, path=path,
            secure=secure, httponly=httponly, samesite=samesite,
        )  # fmt: skip

    # -- content ------------------------------------------------------------------------
    @property
    def content_length(self) -> int | None:
        value = self._headers.get(hdrs.CONTENT_LENGTH)
        return int(value) if value is not None else None

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        self._check_writable()
        if value is not None:
            value = int(value)
            if self._chunked:
                raise RuntimeError("You can't set content length when chunked encoding is enabled")
            self._headers[hdrs.CONTENT_LENGTH] = str(value)
        else:
            self._headers.pop(hdrs.CONTENT_LENGTH, None)

    @property
    def content_type(self) -> str:
        raw = self._headers.get(hdrs.CONTENT_TYPE)
        if raw is None:
            return "application/octet-stream"
        ctype = raw.partition(";")[0].strip().lower()
        # As email.message (which aiohttp parses with): no type/subtype, no type at all.
        return ctype if ctype.count("/") == 1 else "application/octet-stream"

    @content_type.setter
    def content_type(self, value: str) -> None:
        self._check_writable()
        charset = self.charset
        self._set_content_type(str(value), charset)

    @property
    def charset(self) -> str | None:
        raw = self._headers.get(hdrs.CONTENT_TYPE)
        if raw is None:
            return None
        for param in raw.split(";")[1:]:
            key, _, val = param.strip().partition("=")
            if key.lower() == "charset":
                return val.strip('"').lower()
        return None

    @charset.setter
    def charset(self, value: str | None) -> None:
        self._check_writable()
        ctype = self.content_type
        if ctype == "application/octet-stream":
            raise RuntimeError(
                "Setting charset for application/octet-stream doesn't make sense, "
                "setup content_type first"
            )
        self._set_content_type(ctype, value.lower() if value else None)

    def _set_content_type(self, ctype: str, charset: str | None) -> None:
        self._headers[hdrs.CONTENT_TYPE] = f"{ctype}; charset={charset}" if charset else ctype

    # -- validators -----------------------------------------------------------------------
    @property
    def last_modified(self) -> datetime.datetime | None:
        value = self._headers.get(hdrs.LAST_MODIFIED)
        if value is None:
            return None
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None

    @last_modified.setter
    def last_modified(self, value: int | float | datetime.datetime | str | None) -> None:
        self._check_writable()
        if value is None:
            self._headers.pop(hdrs.LAST_MODIFIED, None)
        else:
            self._headers[hdrs.LAST_MODIFIED] = last_modified_value(value)

    @property
    def etag(self) -> Any:
        value = self._headers.get(hdrs.ETAG)
        if value is None:
            return None
        if value == ETAG_ANY:
            return ETag(value=ETAG_ANY, is_weak=False)
        return parse_etag(value)  # None for a header that is no entity tag

    @etag.setter
    def etag(self, value: Any) -> None:
        self._check_writable()
        if value is None:
            self._headers.pop(hdrs.ETAG, None)
        else:
            self._headers[hdrs.ETAG] = etag_value(value)

    # -- completing the head ----------------------------------------------------------------
    def _prepare_headers(self, request: BaseRequest, server_adds_defaults: bool) -> bool:
        """Complete the headers by the HTTP/1.1 rules as the head goes out; settle
        :attr:`keep_alive`. True when the body is sent chunked."""
        headers = self._headers
        head = request._head
        version = head.version
        if self._cookies:
            for value in self._cookies.header_values():
                headers.add(hdrs.SET_COOKIE, value)
        # Everything the application (or a hook) set is checked; what we add below is safe.
        if getversion(headers) != self._trusted:
            check_headers(headers)
        chunked, until_close = self._framing(version)
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = head.keep_alive
        if until_close:
            keep_alive = False  # the end of the body is the end of the connection
        if (
            hdrs.CONTENT_TYPE not in headers
            and headers.get(hdrs.CONTENT_LENGTH) != "0"
            and not (self._must_be_empty_body and self._status in BODILESS)
        ):
            # No body (a 204, 304, 1xx or a zero length): no type, which would only mislead
            # a cache (RFC 9110 8.3); otherwise the generic default, as aiohttp.
            headers[hdrs.CONTENT_TYPE] = "application/octet-stream"
        if not server_adds_defaults:
            add_server_headers(headers)
        if hdrs.CONNECTION not in headers:
            if keep_alive:
                if version == HttpVersion10:
                    headers[hdrs.CONNECTION] = "keep-alive"
            elif version == HttpVersion11:
                headers[hdrs.CONNECTION] = "close"
        self._keep_alive = keep_alive
        return chunked

    def _framing(self, version: HttpVersion) -> tuple[bool, bool]:
        """How the body is delimited, the framing headers set to say so:
        ``(chunked, until_close)``; neither means by its Content-Length (or empty)."""
        headers = self._headers
        chunked = until_close = False
        if self._must_be_empty_body:
            headers.pop(hdrs.TRANSFER_ENCODING, None)
            if self._status in BODILESS:
                headers.pop(hdrs.CONTENT_LENGTH, None)
        elif self._chunked:
            # HTTP/1.0 has no chunks (aiohttp's rule); HTTP/2 and 3 frame the body
            # themselves, and their sink drops the Transfer-Encoding field.
            if version < HttpVersion11:
                raise RuntimeError(_NO_CHUNKED.format(*version))
            headers.pop(hdrs.CONTENT_LENGTH, None)
            chunked = True
        elif hdrs.CONTENT_LENGTH not in headers:
            # No length: chunks where HTTP/1.1 has them, else the close ends the body.
            chunked = version >= HttpVersion11
            until_close = not chunked
        if chunked:
            headers[hdrs.TRANSFER_ENCODING] = "chunked"
        self._chunked = chunked
        return chunked, until_close


def add_server_headers(headers: CIMultiDict[str]) -> None:
    """Date and Server, unless already set: the fields an ASGI server adds itself."""
    headers.setdefault(hdrs.DATE, http_date())
    headers.setdefault(hdrs.SERVER, SERVER_SOFTWARE)
