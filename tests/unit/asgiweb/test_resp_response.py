"""Response behaviour aiohttp's own tests pin down: entity tags, content types, text in
a header's charset, misuse errors, reason phrases and header values, JSON responses,
compression choice, subclass hooks, and a file body cut short by cancellation."""

from __future__ import annotations

import asyncio
import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from asgiweb import web
from asgiweb.test_utils import MockSink, make_mocked_request


def _send(response: web.StreamResponse, method: str = "GET", **request_args: Any) -> MockSink:
    sink = MockSink()
    request = make_mocked_request(method, "/", writer=sink, **request_args)
    asyncio.run(response._send(request))
    return sink


# -- entity tags ------------------------------------------------------------------------
@pytest.mark.parametrize("header", ["forgotten quotes", '"\u2200 x \u2209 ascii"', 'W/"a" junk'])
def test_etag_of_a_header_that_is_no_entity_tag_is_none(header: str) -> None:
    resp = web.StreamResponse()
    resp.headers["ETag"] = header
    assert resp.etag is None


def test_etag_any_and_weak_tags_are_read_back() -> None:
    resp = web.StreamResponse()
    resp.etag = "*"
    assert resp.etag == web.ETag(value="*", is_weak=False)
    resp.headers["ETag"] = 'W/"v1"'
    assert resp.etag == web.ETag(value="v1", is_weak=True)


@pytest.mark.parametrize("value", [123, web.ETag(value=123, is_weak=True)])  # type: ignore[arg-type]
def test_etag_of_unsupported_type_is_refused(value: Any) -> None:
    resp = web.StreamResponse()
    with pytest.raises(ValueError, match="Unsupported etag type"):
        resp.etag = value
    assert "ETag" not in resp.headers


# -- content type and charset -----------------------------------------------------------
@pytest.mark.parametrize("ctype", ["jpeg", "a/b/c", ""])
def test_content_type_without_one_slash_reads_as_octet_stream(ctype: str) -> None:
    resp = web.Response(text="x", content_type=ctype or None)
    if ctype:
        assert resp.headers["Content-Type"] == f"{ctype}; charset=utf-8"
        assert resp.content_type == "application/octet-stream"
    else:
        assert resp.content_type == "text/plain"


def test_text_is_encoded_in_the_charset_of_the_content_type_header() -> None:
    resp = web.Response(text="текст", headers={"Content-Type": "text/html; charset=koi8-r"})
    assert resp.body == "текст".encode("koi8-r")
    assert (resp.content_type, resp.charset) == ("text/html", "koi8-r")
    assert resp.text == "текст"


def test_text_with_a_charsetless_content_type_header_is_utf8_and_says_so() -> None:
    resp = web.Response(text="é", headers={"Content-Type": "text/html"})
    assert resp.body == "é".encode()
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"


def test_text_setter_keeps_the_response_charset() -> None:
    resp = web.Response(body=b"", headers={"Content-Type": "text/plain; charset=latin-1"})
    resp.text = "café"
    assert resp.body == "café".encode("latin-1")


# -- misuse: RuntimeError/TypeError, and AssertionError as in aiohttp --------------------
@pytest.mark.parametrize("expected", [RuntimeError, AssertionError])
def test_write_eof_and_drain_before_prepare_are_refused(expected: type[Exception]) -> None:
    resp = web.StreamResponse()
    with pytest.raises(expected, match="not been started"):
        asyncio.run(resp.write_eof())
    with pytest.raises(expected, match="not been started"):
        asyncio.run(resp.drain())


@pytest.mark.parametrize("expected", [TypeError, AssertionError])
def test_text_must_be_str(expected: type[Exception]) -> None:
    resp = web.Response(text="test")
    with pytest.raises(expected, match="text argument must be str"):
        resp.text = b"123"  # type: ignore[assignment]
    assert resp.body == b"test"


def test_drain_is_deprecated_and_refused_after_eof() -> None:
    async def run() -> None:
        resp = web.StreamResponse()
        await resp.prepare(make_mocked_request("GET", "/"))
        with pytest.warns(DeprecationWarning, match=r"^drain method is deprecated"):
            await resp.drain()
        await resp.write_eof()
        with pytest.raises(RuntimeError, match="EOF has already been sent"):
            await resp.drain()

    asyncio.run(run())


# -- reason phrases and header values ---------------------------------------------------
@pytest.mark.parametrize("reason", ["Bad\r\nInjected: 1", "Bad\nInjected", "Bad\x01", "Bad\x7f"])
def test_reason_with_a_control_character_is_refused(reason: str) -> None:
    with pytest.raises(ValueError, match=r"Reason cannot contain \\n"):
        web.Response(reason=reason)
    with pytest.raises(ValueError, match=r"Reason cannot contain \\n"):
        web.HTTPOk(reason=reason)


def test_reason_may_contain_a_tab() -> None:
    assert _send(web.Response(reason="Fine\tThanks")).reason == "Fine\tThanks"


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x1f", "\x7f", "\r", "\n"])
def test_header_value_with_a_control_character_is_refused(char: str) -> None:
    resp = web.Response(text="x")
    resp.headers["X-Bad"] = f"a{char}b"
    with pytest.raises(ValueError, match="'X-Bad' contains a forbidden control character"):
        _send(resp)


def test_header_value_may_contain_a_tab() -> None:
    resp = web.Response(text="x")
    resp.headers["X-Tab"] = "a\tb"
    sink = _send(resp)
    assert sink.headers is not None and sink.headers["X-Tab"] == "a\tb"


# -- JSON ---------------------------------------------------------------------------------
def test_json_response_serialises_none_as_null() -> None:
    assert web.json_response(None).body == b"null"
    assert web.json_response().body is None


def _dumps_bytes(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def test_json_bytes_response_uses_the_bytes_as_they_are() -> None:
    resp = web.json_bytes_response({"foo": 42}, dumps=_dumps_bytes, status=201)
    assert resp.body == b'{"foo":42}'
    assert (resp.status, resp.content_type) == (201, "application/json")
    custom = web.json_bytes_response(
        [1], dumps=_dumps_bytes, content_type="application/vnd.api+json", headers={"X": "1"}
    )
    assert custom.content_type == "application/vnd.api+json" and custom.headers["X"] == "1"
    assert web.json_bytes_response(None, dumps=_dumps_bytes).body == b"null"


def test_json_bytes_response_takes_data_or_body() -> None:
    assert web.json_bytes_response(dumps=_dumps_bytes, body=b'"x"').body == b'"x"'
    with pytest.raises(ValueError, match="only one of data or body should be specified"):
        web.json_bytes_response("foo", dumps=_dumps_bytes, body=b"bar")
    with pytest.raises(TypeError):
        web.json_bytes_response({"a": 1})  # type: ignore[call-arg]  # dumps is required


def test_json_bytes_response_is_exported() -> None:
    assert "json_bytes_response" in web.__all__


# -- compression ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "coding", "wbits"),
    [
        ("gzip, deflate", "deflate", zlib.MAX_WBITS),
        ("deflate, gzip", "deflate", zlib.MAX_WBITS),
        ("gzip", "gzip", 16 + zlib.MAX_WBITS),
        ("deflate;q=0, gzip", "gzip", 16 + zlib.MAX_WBITS),
    ],
)
def test_compression_prefers_deflate_as_aiohttp(accept: str, coding: str, wbits: int) -> None:
    resp = web.Response(body=b"squeeze " * 100)
    resp.enable_compression()
    sink = _send(resp, headers={"Accept-Encoding": accept})
    assert sink.headers is not None and sink.headers["Content-Encoding"] == coding
    assert zlib.decompress(bytes(sink.body), wbits) == b"squeeze " * 100


# -- subclasses and the base HTTPException --------------------------------------------------
def test_subclass_prepare_and_write_eof_run_when_the_server_sends_it() -> None:
    calls = []

    class Traced(web.Response):
        async def prepare(self, request: Any) -> Any:
            calls.append("prepare")
            self.headers["X-Traced"] = "1"
            return await super().prepare(request)

        async def write_eof(self, data: bytes = b"") -> None:
            calls.append("write_eof")
            await super().write_eof(data)

    sink = _send(Traced(text="hi"))
    assert calls == ["prepare", "write_eof"]
    assert sink.headers is not None and sink.headers["X-Traced"] == "1"
    assert bytes(sink.body) == b"hi"


def test_base_http_exception_can_be_raised_and_chained() -> None:
    with pytest.raises(web.HTTPException) as info:
        try:
            raise KeyError("cause")
        except KeyError as exc:
            raise web.HTTPException() from exc
    assert isinstance(info.value.__cause__, KeyError)
    assert info.value.status == -1
    # It names no status, so it cannot be sent as it is.
    with pytest.raises(RuntimeError, match="has no status code"):
        _send(info.value)
    with pytest.raises(RuntimeError, match="has no status code"):
        asyncio.run(info.value.prepare(make_mocked_request("GET", "/")))


# -- a file body cut short ------------------------------------------------------------------
class _StalledSink(MockSink):
    """A sink whose sendfile never finishes, as with a client that stopped reading."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = asyncio.Event()

    async def sendfile(self, file: Any, offset: int, count: int, chunk_size: int) -> None:
        self.sending.set()
        await asyncio.Event().wait()


def test_file_response_cancelled_mid_body_aborts_the_connection(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 1000)

    async def run() -> _StalledSink:
        sink = _StalledSink()
        request = make_mocked_request("GET", "/", writer=sink)
        task = asyncio.ensure_future(web.FileResponse(path)._send(request))
        await sink.sending.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return sink

    sink = asyncio.run(run())
    assert sink.headers is not None and sink.headers["Content-Length"] == "1000"
    assert sink.aborted
