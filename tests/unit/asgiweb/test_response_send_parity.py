"""``Response._send`` has one shortcut, for a head nothing touched since the constructor
made it: whatever it sends must equal what the general rules send.

Each case is sent three ways: as built (the shortcut when it applies), touched (a header
added and removed again: the same head, but no longer the constructor's, so the general
rules run inside the fused send), and through ``prepare()`` then ``write_eof()``, the
unfused steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from multidict import CIMultiDict

from asgiweb import web
from asgiweb.helpers import HttpVersion, HttpVersion10, HttpVersion11
from asgiweb.response import StreamResponse
from asgiweb.test_utils import make_mocked_request


class _RecordingSink:
    """Keeps every argument of the head and the body, as a transport would receive them."""

    detects_disconnect = False

    def __init__(self, adds_default_headers: bool) -> None:
        self.adds_default_headers = adds_default_headers
        self.started = False
        self.head: tuple[Any, ...] | None = None
        self.body = bytearray()
        self.finished = False
        self.aborted = False

    def start(self, status: int, reason: str, headers: CIMultiDict[str], *flags: bool) -> None:
        self.started = True
        self.head = (status, reason, list(headers.items()), flags)

    async def flush(self) -> None:
        return None

    async def write(self, data: bytes) -> None:
        self.body += data

    async def write_eof(self, data: bytes = b"") -> None:
        self.body += data
        self.finished = True

    def abort(self) -> None:
        self.aborted = True


def _text() -> web.Response:
    return web.Response(text="Hello")


def _html() -> web.Response:
    return web.Response(text="<p>hi</p>", content_type="text/html")


def _json() -> web.Response:
    return web.json_response({"hello": "world", "n": [1, 2, 3]})


def _long_text() -> web.Response:
    return web.Response(text="x" * 5000)  # past the table of small lengths


def _empty_text() -> web.Response:
    return web.Response(text="")


def _bytes() -> web.Response:
    return web.Response(body=b"\x00\x01binary")


def _no_body() -> web.Response:
    return web.Response()


def _status(status: int) -> Callable[[], web.Response]:
    return lambda: web.Response(text="ignored", status=status)


def _cookie() -> web.Response:
    resp = web.Response(text="Hello")
    resp.set_cookie("session", "abc", httponly=True)
    return resp


def _custom_headers() -> web.Response:
    return web.Response(text="Hello", headers={"X-Trace": "1", "Cache-Control": "no-store"})


def _closing() -> web.Response:
    resp = web.Response(text="Hello")
    resp.force_close()
    return resp


def _chunked() -> web.Response:
    resp = web.Response(text="Hello")
    resp.enable_chunked_encoding()
    return resp


def _body_replaced() -> web.Response:
    resp = web.Response(text="Hello")
    resp.body = b"a longer body than the text"
    return resp


def _reason() -> web.Response:
    return web.Response(text="Hello", status=299, reason="Fine")


def _compressed() -> web.Response:
    resp = web.Response(text="Hello " * 100)
    resp.enable_compression()
    return resp


_RESPONSES: dict[str, Callable[[], web.Response]] = {
    "text": _text,
    "html": _html,
    "json": _json,
    "long text": _long_text,
    "empty text": _empty_text,
    "bytes body": _bytes,
    "no body": _no_body,
    "204": _status(204),
    "304": _status(304),
    "404": _status(404),
    "custom reason": _reason,
    "cookie": _cookie,
    "custom headers": _custom_headers,
    "force_close": _closing,
    "chunked": _chunked,
    "body replaced": _body_replaced,
    "compression on": _compressed,
}

# (method, version, request headers): the exchanges each response is sent on.
_REQUESTS: dict[str, tuple[str, HttpVersion, dict[str, str]]] = {
    "GET 1.1": ("GET", HttpVersion11, {}),
    "GET 1.1 close": ("GET", HttpVersion11, {"Connection": "close"}),
    "HEAD 1.1": ("HEAD", HttpVersion11, {}),
    "GET 1.0": ("GET", HttpVersion10, {}),
    "GET 1.0 keep-alive": ("GET", HttpVersion10, {"Connection": "keep-alive"}),
    "GET 1.1 accepts gzip": ("GET", HttpVersion11, {"Accept-Encoding": "gzip"}),
}


def _sent(
    make: Callable[[], web.Response], exchange: str, adds_defaults: bool, way: str
) -> tuple[Any, ...]:
    method, version, headers = _REQUESTS[exchange]
    sink = _RecordingSink(adds_defaults)
    closing = headers.get("Connection") == "close"  # for HTTP/1.1, the mock needs telling
    request = make_mocked_request(
        method, "/", headers, version=version, closing=closing, writer=sink
    )
    resp = make()
    if way == "touched":
        resp.headers["X-Touched"] = "1"
        del resp.headers["X-Touched"]
    try:
        if way == "unfused":
            asyncio.run(StreamResponse._send(resp, request))
        else:
            asyncio.run(resp._send(request))
    except RuntimeError as exc:  # chunked over HTTP/1.0: refused every way
        return (str(exc),)
    assert sink.head is not None and sink.finished and not sink.aborted
    status, reason, fields, flags = sink.head
    dates = [value for name, value in fields if name == "Date"]
    assert len(dates) == (0 if adds_defaults else 1)
    # The clock may tick between two sends: only the Date's place is compared.
    fields = [(name, "<date>" if name == "Date" else value) for name, value in fields]
    state = (resp.keep_alive, resp.chunked, resp.body_length, resp.prepared)
    return status, reason, fields, flags, bytes(sink.body), state


@pytest.mark.parametrize("adds_defaults", [False, True], ids=["native", "asgi"])
@pytest.mark.parametrize("exchange", list(_REQUESTS))
@pytest.mark.parametrize("name", list(_RESPONSES))
def test_the_shortcut_sends_what_the_rules_send(
    name: str, exchange: str, adds_defaults: bool
) -> None:
    make = _RESPONSES[name]
    fused = _sent(make, exchange, adds_defaults, "as built")
    assert fused == _sent(make, exchange, adds_defaults, "touched")
    assert fused == _sent(make, exchange, adds_defaults, "unfused")


def test_the_shortcut_is_taken_where_it_applies() -> None:
    """The cases above prove nothing about the shortcut unless it runs: an untouched text
    or JSON response on a kept-alive HTTP/1.1 GET sends without ever reaching the rules."""
    for make in (_text, _html, _json, _long_text, _empty_text):
        resp = make()
        request = make_mocked_request("GET", "/", writer=_RecordingSink(False))

        def refuse(*args: Any) -> bool:
            raise AssertionError("the general rules ran")

        resp._prepare_headers = refuse  # type: ignore[method-assign,assignment]
        asyncio.run(resp._send(request))
        assert resp.prepared


def test_finishers_replaced_on_the_instance_are_not_skipped() -> None:
    """The fused send skips ``prepare()`` and ``write_eof()``: never once the application
    replaced one of them on the response itself."""
    calls: list[str] = []
    resp = _text()
    finish = resp.write_eof

    async def write_eof(data: bytes = b"") -> None:
        calls.append("write_eof")
        await finish(data)

    resp.write_eof = write_eof  # type: ignore[method-assign]
    sink = _RecordingSink(False)
    asyncio.run(resp._send(make_mocked_request("GET", "/", writer=sink)))
    assert calls == ["write_eof"] and bytes(sink.body) == b"Hello"


def test_a_subclass_prepare_is_not_skipped() -> None:
    calls: list[str] = []

    class Traced(web.Response):
        async def prepare(self, request: Any) -> Any:
            calls.append("prepare")
            return await super().prepare(request)

    sink = _RecordingSink(False)
    asyncio.run(Traced(text="Hello")._send(make_mocked_request("GET", "/", writer=sink)))
    assert calls == ["prepare"] and bytes(sink.body) == b"Hello"
