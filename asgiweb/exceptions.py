"""The HTTP exception classes: raise one from a handler to answer with its status."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from yarl import URL

from . import hdrs
from .http.response_headers import checked_reason
from .response import Response

if TYPE_CHECKING:
    from .request import BaseRequest
    from .transport import ResponseSink

__all__ = [
    "HTTPException", "HTTPError", "HTTPRedirection", "HTTPSuccessful",
    "HTTPOk", "HTTPCreated", "HTTPAccepted", "HTTPNonAuthoritativeInformation",
    "HTTPNoContent", "HTTPResetContent", "HTTPPartialContent",
    "HTTPMove", "HTTPMultipleChoices", "HTTPMovedPermanently", "HTTPFound", "HTTPSeeOther",
    "HTTPNotModified", "HTTPUseProxy", "HTTPTemporaryRedirect", "HTTPPermanentRedirect",
    "HTTPClientError", "HTTPBadRequest", "HTTPUnauthorized", "HTTPPaymentRequired",
    "HTTPForbidden", "HTTPNotFound", "HTTPMethodNotAllowed", "HTTPNotAcceptable",
    "HTTPProxyAuthenticationRequired", "HTTPRequestTimeout", "HTTPConflict", "HTTPGone",
    "HTTPLengthRequired", "HTTPPreconditionFailed", "HTTPRequestEntityTooLarge",
    "HTTPRequestURITooLong", "HTTPUnsupportedMediaType", "HTTPRequestRangeNotSatisfiable",
    "HTTPExpectationFailed", "HTTPMisdirectedRequest", "HTTPUnprocessableEntity",
    "HTTPFailedDependency", "HTTPUpgradeRequired", "HTTPPreconditionRequired",
    "HTTPTooManyRequests", "HTTPRequestHeaderFieldsTooLarge", "HTTPUnavailableForLegalReasons",
    "HTTPServerError", "HTTPInternalServerError", "HTTPNotImplemented", "HTTPBadGateway",
    "HTTPServiceUnavailable", "HTTPGatewayTimeout", "HTTPVersionNotSupported",
    "HTTPVariantAlsoNegotiates", "HTTPInsufficientStorage", "HTTPNotExtended",
    "HTTPNetworkAuthenticationRequired",
]  # fmt: skip


class HTTPException(Response, Exception):
    """Base of the HTTP exceptions; each subclass carries one ``status_code``."""

    status_code = -1
    empty_body = False

    __http_exception__ = True

    def __init__(
        self,
        *,
        headers: Any = None,
        reason: str | None = None,
        body: Any = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        if body is not None:
            warnings.warn(
                "body argument is deprecated for http web exceptions",
                DeprecationWarning,
                stacklevel=2,
            )
        Response.__init__(
            self,
            status=self.status_code,
            headers=headers,
            reason=reason,
            body=body,
            text=text,
            content_type=content_type,
        )
        Exception.__init__(self, self.reason)
        if self.body is None and not self.empty_body:
            self.text = f"{self.status}: {self.reason}"

    def _init_status(self, status: int, reason: str | None) -> None:
        if status == -1:
            # A base class (HTTPException, HTTPError, ...): it may be raised and chained,
            # as in aiohttp, but has no status to send (see prepare()).
            self._status = status
            self._reason = checked_reason(status, reason)
            return
        super()._init_status(status, reason)

    async def _start(self, request: BaseRequest) -> ResponseSink:
        self._check_status()  # prepare() called by the application
        return await super()._start(request)

    async def _send(self, request: BaseRequest) -> None:
        self._check_status()
        await super()._send(request)

    def _check_status(self) -> None:
        if self._status == -1:
            raise RuntimeError(
                f"{type(self).__name__} has no status code: raise one of its subclasses"
            )

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.reason}>"

    __hash__ = Response.__hash__
    __eq__ = Response.__eq__


class HTTPError(HTTPException):
    """Base class for 4xx and 5xx."""


class HTTPRedirection(HTTPException):
    """Base class for 3xx."""


class HTTPSuccessful(HTTPException):
    """Base class for 2xx."""


class HTTPOk(HTTPSuccessful):
    """200 OK."""

    status_code = 200


class HTTPCreated(HTTPSuccessful):
    """201 Created."""

    status_code = 201


class HTTPAccepted(HTTPSuccessful):
    """202 Accepted."""

    status_code = 202


class HTTPNonAuthoritativeInformation(HTTPSuccessful):
    """203 Non-Authoritative Information."""

    status_code = 203


class HTTPNoContent(HTTPSuccessful):
    """204 No Content."""

    status_code = 204
    empty_body = True


class HTTPResetContent(HTTPSuccessful):
    """205 Reset Content."""

    status_code = 205
    empty_body = True


class HTTPPartialContent(HTTPSuccessful):
    """206 Partial Content."""

    status_code = 206


class HTTPMove(HTTPRedirection):
    """A redirect: ``location`` becomes the Location header."""

    def __init__(
        self,
        location: str | URL,
        *,
        headers: Any = None,
        reason: str | None = None,
        body: Any = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        if not location:
            raise ValueError("HTTP redirects need a location to redirect to.")
        super().__init__(
            headers=headers, reason=reason, body=body, text=text, content_type=content_type
        )
        self.headers[hdrs.LOCATION] = str(URL(location))
        self.location = location


class HTTPMultipleChoices(HTTPMove):
    """300 Multiple Choices."""

    status_code = 300


class HTTPMovedPermanently(HTTPMove):
    """301 Moved Permanently."""

    status_code = 301


class HTTPFound(HTTPMove):
    """302 Found."""

    status_code = 302


class HTTPSeeOther(HTTPMove):
    """303 See Other."""

    status_code = 303


class HTTPNotModified(HTTPRedirection):
    """304 Not Modified."""

    status_code = 304
    empty_body = True


class HTTPUseProxy(HTTPMove):
    """305 Use Proxy."""

    status_code = 305


class HTTPTemporaryRedirect(HTTPMove):
    """307 Temporary Redirect."""

    status_code = 307


class HTTPPermanentRedirect(HTTPMove):
    """308 Permanent Redirect."""

    status_code = 308


class HTTPClientError(HTTPError):
    """Base class for 4xx."""


class HTTPBadRequest(HTTPClientError):
    """400 Bad Request."""

    status_code = 400


class HTTPUnauthorized(HTTPClientError):
    """401 Unauthorized."""

    status_code = 401


class HTTPPaymentRequired(HTTPClientError):
    """402 Payment Required."""

    status_code = 402


class HTTPForbidden(HTTPClientError):
    """403 Forbidden."""

    status_code = 403


class HTTPNotFound(HTTPClientError):
    """404 Not Found."""

    status_code = 404


class HTTPMethodNotAllowed(HTTPClientError):
    """405, with the Allow header listing ``allowed_methods``."""

    status_code = 405

    def __init__(
        self,
        method: str,
        allowed_methods: Iterable[str],
        *,
        headers: Any = None,
        reason: str | None = None,
        body: Any = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        allow = ",".join(sorted(allowed_methods))
        super().__init__(
            headers=headers, reason=reason, body=body, text=text, content_type=content_type
        )
        self.headers[hdrs.ALLOW] = allow
        self.allowed_methods: set[str] = set(allowed_methods)
        self.method = method.upper()


class HTTPNotAcceptable(HTTPClientError):
    """406 Not Acceptable."""

    status_code = 406


class HTTPProxyAuthenticationRequired(HTTPClientError):
    """407 Proxy Authentication Required."""

    status_code = 407


class HTTPRequestTimeout(HTTPClientError):
    """408 Request Timeout."""

    status_code = 408


class HTTPConflict(HTTPClientError):
    """409 Conflict."""

    status_code = 409


class HTTPGone(HTTPClientError):
    """410 Gone."""

    status_code = 410


class HTTPLengthRequired(HTTPClientError):
    """411 Length Required."""

    status_code = 411


class HTTPPreconditionFailed(HTTPClientError):
    """412 Precondition Failed."""

    status_code = 412


class HTTPRequestEntityTooLarge(HTTPClientError):
    """413; built by the framework with the limit and the size seen."""

    status_code = 413

    def __init__(self, max_size: float, actual_size: float, **kwargs: Any) -> None:
        kwargs.setdefault(
            "text",
            f"Maximum request body size {max_size} exceeded, actual body size {actual_size}",
        )
        super().__init__(**kwargs)


class HTTPRequestURITooLong(HTTPClientError):
    """414 Request-URI Too Long."""

    status_code = 414


class HTTPUnsupportedMediaType(HTTPClientError):
    """415 Unsupported Media Type."""

    status_code = 415


class HTTPRequestRangeNotSatisfiable(HTTPClientError):
    """416 Requested Range Not Satisfiable."""

    status_code = 416


class HTTPExpectationFailed(HTTPClientError):
    """417 Expectation Failed."""

    status_code = 417


class HTTPMisdirectedRequest(HTTPClientError):
    """421 Misdirected Request."""

    status_code = 421


class HTTPUnprocessableEntity(HTTPClientError):
    """422 Unprocessable Entity."""

    status_code = 422


class HTTPFailedDependency(HTTPClientError):
    """424 Failed Dependency."""

    status_code = 424


class HTTPUpgradeRequired(HTTPClientError):
    """426 Upgrade Required."""

    status_code = 426


class HTTPPreconditionRequired(HTTPClientError):
    """428 Precondition Required."""

    status_code = 428


class HTTPTooManyRequests(HTTPClientError):
    """429 Too Many Requests."""

    status_code = 429


class HTTPRequestHeaderFieldsTooLarge(HTTPClientError):
    """431 Request Header Fields Too Large."""

    status_code = 431


class HTTPUnavailableForLegalReasons(HTTPClientError):
    """451, with a Link header naming who blocks the resource."""

    status_code = 451

    def __init__(
        self,
        link: str | URL | None,
        *,
        headers: Any = None,
        reason: str | None = None,
        body: Any = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        super().__init__(
            headers=headers, reason=reason, body=body, text=text, content_type=content_type
        )
        self._link = None
        if link:
            self._link = URL(link)
            self.headers[hdrs.LINK] = f'<{str(self._link)}>; rel="blocked-by"'

    @property
    def link(self) -> URL | None:
        return self._link


class HTTPServerError(HTTPError):
    """Base class for 5xx."""


class HTTPInternalServerError(HTTPServerError):
    """500 Internal Server Error."""

    status_code = 500


class HTTPNotImplemented(HTTPServerError):
    """501 Not Implemented."""

    status_code = 501


class HTTPBadGateway(HTTPServerError):
    """502 Bad Gateway."""

    status_code = 502


class HTTPServiceUnavailable(HTTPServerError):
    """503 Service Unavailable."""

    status_code = 503


class HTTPGatewayTimeout(HTTPServerError):
    """504 Gateway Timeout."""

    status_code = 504


class HTTPVersionNotSupported(HTTPServerError):
    """505 HTTP Version Not Supported."""

    status_code = 505


class HTTPVariantAlsoNegotiates(HTTPServerError):
    """506 Variant Also Negotiates."""

    status_code = 506


class HTTPInsufficientStorage(HTTPServerError):
    """507 Insufficient Storage."""

    status_code = 507


class HTTPNotExtended(HTTPServerError):
    """510 Not Extended."""

    status_code = 510


class HTTPNetworkAuthenticationRequired(HTTPServerError):
    """511 Network Authentication Required."""

    status_code = 511
