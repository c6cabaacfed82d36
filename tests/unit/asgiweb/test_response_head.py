"""The head a plain text Response sends: the shortcut for untouched responses must send
exactly what the general path sends, in every case the shortcut could get wrong."""

from __future__ import annotations

import asyncio

import pytest
from multidict import CIMultiDict

from asgiweb import web
from asgiweb.helpers import HttpVersion10, HttpVersion11
from asgiweb.test_utils import MockSink, make_mocked_request


def _touched(response: web.Response) -> web.Response:
    # Any header edit moves the multidict's version: the response takes the general path.
    response.headers["X-Probe"] = "1"
    del response.headers["X-Probe"]
    return response


def _sent(response: web.Response, method: str, **request_args: object) -> MockSink:
    sink = MockSink()
    request = make_mocked_request(method, "/", writer=sink, **request_args)  # type: ignore[arg-type]
    asyncio.run(response._send(request))
    assert sink.finished
    return sink


def _comparable(headers: CIMultiDict[str] | None) -> list[tuple[str, str]]:
    assert headers is not None
    return [(name, value) for name, value in headers.items() if name != "Date"]


CASES = [
    pytest.param("GET", {}, id="http11-keepalive"),
    pytest.param("GET", {"version": HttpVersion10}, id="http10"),
    pytest.param(
        "GET",
        {"version": HttpVersion10, "headers": {"Connection": "keep-alive"}},
        id="http10-keepalive",
    ),
    pytest.param("GET", {"closing": True}, id="http11-close"),
    pytest.param("HEAD", {}, id="head"),
]


@pytest.mark.parametrize(("method", "request_args"), CASES)
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: web.Response(text="Hello, World!"), id="text"),
        pytest.param(lambda: web.json_response({"message": "Hello"}), id="json"),
        pytest.param(lambda: web.Response(text="x" * 10, content_type="text/html"), id="html"),
        pytest.param(lambda: web.Response(text="", status=204), id="204"),
        pytest.param(lambda: web.Response(text="gone", status=404), id="404"),
    ],
)
def test_untouched_response_sends_the_general_head(
    make: object, method: str, request_args: dict[str, object]
) -> None:
    assert callable(make)
    fast = _sent(make(), method, **request_args)
    slow = _sent(_touched(make()), method, **request_args)
    assert (fast.status, fast.reason) == (slow.status, slow.reason)
    assert _comparable(fast.headers) == _comparable(slow.headers)
    assert fast.headers is not None and "Date" in fast.headers
    assert bytes(fast.body) == bytes(slow.body)


def test_untouched_response_with_cookie_or_forced_close() -> None:
    plain = web.Response(text="hi")
    plain.set_cookie("a", "b")
    sink = _sent(plain, "GET")
    assert sink.headers is not None
    assert sink.headers["Set-Cookie"].startswith("a=b")

    closing = web.Response(text="hi")
    closing.force_close()
    sink = _sent(closing, "GET")
    assert sink.headers is not None and sink.headers["Connection"] == "close"


def test_headers_after_sending_are_what_was_sent() -> None:
    response = web.Response(text="Hello, World!")
    sink = _sent(response, "GET", version=HttpVersion11)
    assert response.headers["Content-Length"] == "13"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert sink.headers == response.headers
    assert response.prepared and response.keep_alive
    with pytest.raises(RuntimeError):
        response.headers["X-Late"] = "1"


def test_content_type_that_cannot_be_a_header_is_refused_when_sent() -> None:
    response = web.Response(text="x", content_type="text/plain\r\nX-Injected: 1")
    sink = MockSink()
    request = make_mocked_request("GET", "/", writer=sink)
    with pytest.raises(ValueError):
        asyncio.run(response._send(request))
    assert not sink.started
