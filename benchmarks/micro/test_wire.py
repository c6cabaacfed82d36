"""The native server's sans-IO wire code: parsing a request head, framing a response head."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict
from pytest_benchmark.fixture import BenchmarkFixture

from asgiweb.transport import RequestHead
from native_server.wire.parser import END_OF_MESSAGE, RequestParser
from native_server.wire.serializer import serialize_head

HEADS = {
    # What wrk sends: the floor of the per-request parsing cost.
    "minimal": b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
    # A browser's navigation request: more, and longer, headers.
    "browser": (
        b"GET /users/42/posts/7?ref=home&page=2 HTTP/1.1\r\n"
        b"Host: example.com\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
        b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        b"Accept-Language: en-GB,en;q=0.5\r\n"
        b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
        b"Referer: https://example.com/\r\n"
        b"Connection: keep-alive\r\n"
        b"Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n"
        b"Upgrade-Insecure-Requests: 1\r\n"
        b"Sec-Fetch-Dest: document\r\n"
        b"Sec-Fetch-Mode: navigate\r\n"
        b"\r\n"
    ),
}


@pytest.mark.parametrize("kind", list(HEADS))
def test_parse_request_head(benchmark: BenchmarkFixture, kind: str) -> None:
    # One parser for every round, as one keep-alive connection parses request after request.
    parser = RequestParser()
    events = benchmark(parser.feed, HEADS[kind])
    assert isinstance(events[0], RequestHead) and events[-1] is END_OF_MESSAGE


def test_serialize_response_head(benchmark: BenchmarkFixture) -> None:
    # The headers a native `Response(text=...)` goes out with, passed as the sink passes them.
    headers = CIMultiDict(
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", "13"),
            ("Date", "Sat, 21 Nov 2026 00:00:00 GMT"),
            ("Server", "Python/3.11 asgiweb/0.1.0"),
        ]
    )
    head = benchmark(serialize_head, (1, 1), 200, "OK", headers.items())
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
