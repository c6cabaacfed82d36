"""The HTTP exception hierarchy, as charted in the aiohttp quickstart."""

from __future__ import annotations

import pytest

from asgiweb import web

CHART = {
    web.HTTPSuccessful: {200: "HTTPOk", 201: "HTTPCreated", 202: "HTTPAccepted",
                         203: "HTTPNonAuthoritativeInformation", 204: "HTTPNoContent",
                         205: "HTTPResetContent", 206: "HTTPPartialContent"},
    web.HTTPRedirection: {300: "HTTPMultipleChoices", 301: "HTTPMovedPermanently",
                          302: "HTTPFound", 303: "HTTPSeeOther", 304: "HTTPNotModified",
                          305: "HTTPUseProxy", 307: "HTTPTemporaryRedirect",
                          308: "HTTPPermanentRedirect"},
    web.HTTPClientError: {400: "HTTPBadRequest", 401: "HTTPUnauthorized",
                          402: "HTTPPaymentRequired", 403: "HTTPForbidden", 404: "HTTPNotFound",
                          405: "HTTPMethodNotAllowed", 406: "HTTPNotAcceptable",
                          407: "HTTPProxyAuthenticationRequired", 408: "HTTPRequestTimeout",
                          409: "HTTPConflict", 410: "HTTPGone", 411: "HTTPLengthRequired",
                          412: "HTTPPreconditionFailed", 413: "HTTPRequestEntityTooLarge",
                          414: "HTTPRequestURITooLong", 415: "HTTPUnsupportedMediaType",
                          416: "HTTPRequestRangeNotSatisfiable", 417: "HTTPExpectationFailed",
                          421: "HTTPMisdirectedRequest", 422: "HTTPUnprocessableEntity",
                          424: "HTTPFailedDependency", 426: "HTTPUpgradeRequired",
                          428: "HTTPPreconditionRequired", 429: "HTTPTooManyRequests",
                          431: "HTTPRequestHeaderFieldsTooLarge",
                          451: "HTTPUnavailableForLegalReasons"},
    web.HTTPServerError: {500: "HTTPInternalServerError", 501: "HTTPNotImplemented",
                          502: "HTTPBadGateway", 503: "HTTPServiceUnavailable",
                          504: "HTTPGatewayTimeout", 505: "HTTPVersionNotSupported",
                          506: "HTTPVariantAlsoNegotiates", 507: "HTTPInsufficientStorage",
                          510: "HTTPNotExtended", 511: "HTTPNetworkAuthenticationRequired"},
}  # fmt: skip


@pytest.mark.parametrize(
    "base, status, name",
    [(base, status, name) for base, items in CHART.items() for status, name in items.items()],
)
def test_every_class_is_where_the_chart_puts_it(base: type, status: int, name: str) -> None:
    cls = getattr(web, name)
    assert cls.status_code == status
    assert issubclass(cls, base) and issubclass(cls, web.HTTPException)
    assert issubclass(cls, Exception)
    if base in (web.HTTPClientError, web.HTTPServerError):
        assert issubclass(cls, web.HTTPError)


def test_constructors() -> None:
    exc = web.HTTPFound("/there", headers={"X": "1"}, reason="Elsewhere")
    assert exc.location == "/there" and exc.headers["Location"] == "/there"
    assert exc.reason == "Elsewhere" and exc.text == "302: Elsewhere"
    exc405 = web.HTTPMethodNotAllowed("put", ["GET", "POST"])
    assert exc405.method == "PUT" and exc405.allowed_methods == {"GET", "POST"}
    exc451 = web.HTTPUnavailableForLegalReasons("https://x.org/why")
    assert str(exc451.link) == "https://x.org/why"
    assert web.HTTPNoContent().text is None and web.HTTPNotModified().body is None
    assert web.HTTPNotFound(text="gone").text == "gone"
    with pytest.raises(ValueError):
        web.HTTPFound("")
    with pytest.warns(DeprecationWarning):
        web.HTTPBadRequest(body=b"old style")
    assert str(web.HTTPNotFound()) == "Not Found"


def test_response_argument_checks() -> None:
    with pytest.raises(ValueError):
        web.Response(body=b"x", text="y")
    with pytest.raises(ValueError):
        web.Response(text="x", content_type="text/plain; charset=utf-8")
    with pytest.raises(ValueError):
        web.Response(text="x", headers={"Content-Type": "a/b"}, content_type="c/d")
    with pytest.raises(TypeError):
        web.Response(text=b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        web.json_response({"a": 1}, text="{}")
    assert web.Response(body=b"x").content_type == "application/octet-stream"
    assert web.Response(text="x").charset == "utf-8"
    resp = web.Response(text="x", content_type="text/html", charset="latin-1")
    assert (resp.content_type, resp.charset) == ("text/html", "latin-1")
    with pytest.raises(ValueError):
        web.StreamResponse(status=99)
    with pytest.raises(ValueError):
        web.StreamResponse().set_status(200, "OK\nX: y")


def test_application_loop_argument_is_deprecated_not_fatal() -> None:
    with pytest.warns(DeprecationWarning, match="loop"):
        web.Application(loop=object())
