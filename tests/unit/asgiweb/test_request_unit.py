"""Request helpers without a server: make_mocked_request, Forwarded, the body reader."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgiweb import web
from asgiweb.request import parse_forwarded
from asgiweb.streams import StreamReader
from asgiweb.test_utils import MockSink, make_mocked_request
from asgiweb.transport import blank_head, scan_headers


def test_make_mocked_request_drives_a_handler() -> None:
    app = web.Application()
    key = web.AppKey("greeting", str)
    app[key] = "hello"

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        return web.Response(text=f"{request.app[key]} {request.match_info['who']} {form['x']}")

    request = make_mocked_request(
        "POST",
        "/hi/bob?q=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        match_info={"who": "bob"},
        app=app,
        payload=b"x=42",
    )

    async def run() -> MockSink:
        response = await handler(request)
        await response.prepare(request)
        await response.write_eof()
        assert isinstance(request._sink, MockSink)
        return request._sink

    sink = asyncio.run(run())
    assert sink.status == 200 and bytes(sink.body) == b"hello bob 42"
    assert request.query["q"] == "1" and request.remote == "127.0.0.1"
    assert request.config_dict[key] == "hello"


def test_mocked_request_http10_and_tls() -> None:
    request = make_mocked_request("GET", "/", version=web.HttpVersion10, sslcontext=object())
    assert request.keep_alive is False and request.scheme == "https" and request.secure


@pytest.mark.parametrize(
    "headers, expected",
    [
        (["for=192.0.2.60;proto=http;by=203.0.113.43"],
         [{"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"}]),
        (['for="_gazonk"', "For=\"[2001:db8:cafe::17]:4711\""],
         [{"for": "_gazonk"}, {"for": "[2001:db8:cafe::17]:4711"}]),
        (["for=192.0.2.43, for=198.51.100.17"], [{"for": "192.0.2.43"}, {"for": "198.51.100.17"}]),
        (['host="a\\"b"'], [{"host": 'a"b'}]),
        (["garbage!, for=1.2.3.4"], [{}, {"for": "1.2.3.4"}]),
        (["for=a;for=b"], [{"for": "a"}]),  # a repeated name keeps the first
    ],
)  # fmt: skip
def test_forwarded(headers: list[str], expected: list[dict[str, str]]) -> None:
    assert [dict(e) for e in parse_forwarded(headers)] == expected


def test_chain_map_proxy() -> None:
    proxy = web.ChainMapProxy([{"a": 1}, {"a": 2, "b": 3}])
    assert proxy["a"] == 1 and proxy["b"] == 3 and proxy.get("c", 9) == 9
    assert len(proxy) == 2 and set(proxy) == {"a", "b"} and "b" in proxy
    with pytest.raises(KeyError):
        proxy["zz"]


class Flow:
    def __init__(self) -> None:
        self.paused = 0
        self.resumed = 0

    def pause_reading(self) -> None:
        self.paused += 1

    def resume_reading(self) -> None:
        self.resumed += 1


def test_reader_pauses_the_transport_past_high_water_and_resumes_below_low() -> None:
    flow = Flow()
    reader = StreamReader(limit=10, flow=flow)
    reader.feed_data(b"x" * 15)
    assert flow.paused == 0
    reader.feed_data(b"y" * 10)  # 25 > 2 * limit
    assert flow.paused == 1

    async def drain() -> list[bytes]:
        return [await reader.read(20), await reader.read(5)]

    assert asyncio.run(drain()) == [b"x" * 15, b"y" * 5]  # one buffered piece per read
    assert flow.resumed == 1


def test_read_all_joins_pieces_as_they_arrive_and_resumes_the_transport() -> None:
    flow = Flow()

    async def run() -> bytes:
        reader = StreamReader(limit=4, flow=flow)
        reader.feed_data(b"abcdefghi")  # 9 > 2 * limit: the transport pauses
        assert flow.paused == 1
        loop = asyncio.get_running_loop()
        loop.call_soon(reader.feed_data, b"jk")
        loop.call_soon(reader.feed_eof)
        body = await reader.read_all()
        assert reader.at_eof() and reader.total_bytes == 11
        assert await reader.read() == b""
        return body

    assert asyncio.run(run()) == b"abcdefghijk"
    assert flow.resumed == 1


def test_read_all_stops_one_piece_past_its_limit() -> None:
    async def run() -> tuple[bytes, bytes]:
        reader = StreamReader()
        pulled = 0

        async def pull(reader: StreamReader) -> None:
            nonlocal pulled
            pulled += 1
            reader.feed_data(b"x" * 4)  # an endless body

        reader._pull = pull
        over = await reader.read_all(limit=10)
        return over, await reader.readany()

    over, rest = asyncio.run(run())
    assert over == b"x" * 12  # past the limit by one piece, and no more was pulled
    assert rest == b"x" * 4


def test_read_all_raises_the_bodys_error_after_what_came_before_it() -> None:
    async def run() -> None:
        reader = StreamReader()
        reader.feed_data(b"ab")
        asyncio.get_running_loop().call_soon(reader.set_exception, ConnectionResetError("gone"))
        await reader.read_all()

    with pytest.raises(ConnectionResetError, match="gone"):
        asyncio.run(run())


def test_client_max_size_refuses_a_body_without_a_length() -> None:
    reader = StreamReader()
    request = make_mocked_request("POST", "/", payload=reader, client_max_size=5)
    reader.feed_data(b"abc")
    reader.feed_data(b"def")
    reader.feed_eof()
    with pytest.raises(web.HTTPRequestEntityTooLarge) as caught:
        asyncio.run(request.read())
    assert "6" in caught.value.text


def test_first_value_reads_the_raw_fields_as_headers_would() -> None:
    raw = [
        (b"Content-Encoding", b" GZip "),
        (b"content-encoding", b"deflate"),
        (b"X-Raw", b"caf\xc3\xa9 \xff"),
    ]
    head = blank_head(raw)
    found = [head.first_value(name) for name in (b"content-encoding", b"x-raw", b"host")]
    assert head._headers is None  # nothing built for one field
    assert found == [head.headers.get("Content-Encoding"), head.headers["X-Raw"], None]
    assert found[:2] == [" GZip ", "caf\u00e9 \udcff"]
    assert head.first_value(b"x-raw") == found[1]  # from the built headers now


def test_deferred_fields_come_from_the_filler_once_and_yield_to_set_values() -> None:
    """The ASGI adapter's lazy head: the connection fields it leaves unset come from its
    filler on first read, one call for all of them; a field it set keeps its value; a
    field nobody gives stays an AttributeError; the other fields are plain slots."""
    calls: list[str] = []

    def fill(source: str) -> dict[str, object]:
        calls.append(source)
        return {"query_string": "a=1", "scheme": "https", "peername": ("10.0.0.1", 5)}

    head = blank_head([(b"host", b"h")], fill, "scope")
    head.method = "GET"
    head.scheme = "wss-set-first"
    assert calls == []  # nothing read yet, nothing filled
    assert head.query_string == "a=1"
    assert (head.scheme, head.peername, head.method) == ("wss-set-first", ("10.0.0.1", 5), "GET")
    assert calls == ["scope"]
    head.query_string = "b=2"  # a transport may still set a field once filled
    assert head.query_string == "b=2"
    with pytest.raises(AttributeError):
        head.sockname  # noqa: B018 - the filler gave none
    assert calls == ["scope"]
    plain = blank_head([])
    with pytest.raises(AttributeError):
        plain.scheme  # noqa: B018 - no filler: an unset field is an error, not a None


_FIELD_NAMES = st.sampled_from(
    [b"Content-Length", b"content-length", b"CONTENT-ENCODING", b"content-encoding",
     b"Host", b"X-Other", b"Content-Type", b"Transfer-Encoding"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(raw=st.lists(st.tuples(_FIELD_NAMES, st.binary(max_size=8)), max_size=8))
def test_scanned_first_values_match_the_headers(raw: list[tuple[bytes, bytes]]) -> None:
    """What a transport's scan_headers() notes answers first_value() as a fresh look at
    the headers would, duplicates, case and undecodable bytes included; the ASGI form
    (names lower-cased) notes the same."""
    for pairs, lowercase in ((raw, False), ([(n.lower(), v) for n, v in raw], True)):
        scanned = blank_head(pairs)
        scanned._first = scan_headers(pairs, lowercase)[5]
        fresh = blank_head(pairs)
        for name in (b"content-length", b"content-encoding", b"content-type", b"host"):
            expected = fresh.headers.get(name.decode())
            assert scanned.first_value(name) == expected
            assert fresh.first_value(name) == expected
        assert scanned._headers is None  # answered without building the headers


def test_reader_readuntil_across_pieces_and_eof() -> None:
    async def run() -> list[bytes]:
        reader = StreamReader()
        for piece in (b"ab", b"c|", b"|de", b"f"):
            reader.feed_data(piece)
        reader.feed_eof()
        return [await reader.readuntil(b"||"), await reader.readuntil(b"||"), await reader.read()]

    assert asyncio.run(run()) == [b"abc||", b"def", b""]


def test_reader_readexactly_short() -> None:
    async def run() -> None:
        reader = StreamReader()
        reader.feed_data(b"ab")
        reader.feed_eof()
        await reader.readexactly(5)

    with pytest.raises(asyncio.IncompleteReadError):
        asyncio.run(run())


def test_returning_an_http_exception_still_works_with_a_warning() -> None:
    import logging

    from asgiweb.handling import respond

    async def handler(request: web.Request) -> web.Response:
        return web.HTTPConflict()

    request = make_mocked_request("GET", "/")
    with pytest.warns(DeprecationWarning, match="raise the exception"):
        asyncio.run(respond(handler, request, logging.getLogger("test")))
    assert request._sink.status == 409  # type: ignore[attr-defined]
    assert bytes(request._sink.body) == b"409: Conflict"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "make",
    [
        lambda: web.Response(text="x", content_type="text/html\r\nX-Evil: 1"),
        lambda: web.Response(text="x", headers={"X-Evil": "a\nb"}),
        lambda: web.StreamResponse(headers={"Bad Name": "v"}),
    ],
)
def test_unsafe_headers_are_refused_before_anything_is_sent(make) -> None:
    request = make_mocked_request("GET", "/")

    async def run() -> None:
        await make()._send(request)

    with pytest.raises(ValueError):
        asyncio.run(run())
    assert request._sink.started is False  # type: ignore[attr-defined]


def test_headers_changed_after_construction_are_checked_again() -> None:
    request = make_mocked_request("GET", "/")
    resp = web.Response(text="fine")
    resp.headers["X-Late"] = "a\r\nSet-Cookie: x=1"

    with pytest.raises(ValueError):
        asyncio.run(resp.prepare(request))
