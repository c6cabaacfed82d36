"""``client_max_size`` cannot be bypassed (issue 16), on every path over raw sockets.

Not by a Content-Length over it, a chunked body with no length, a compressed body that
inflates past it, many small form fields, huge or numerous multipart part headers, or a
urlencoded form: read(), text(), json() and post() all answer 413 with aiohttp's text,
and the server does no more than about the limit's worth of work. A handler streaming
``request.content`` is not held to client_max_size (as in aiohttp), but what the server
buffers for it stays bounded. After each case the server still answers normally.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from asgiweb import web

LIMIT = 1024
READ_BUFSIZE = 2**14
TOO_LARGE = re.compile(rb"Maximum request body size 1024 exceeded, actual body size (\d+)")
BOUNDARY = b"b0und4ry"
MULTIPART = b"multipart/form-data; boundary=" + BOUNDARY


@web.middleware
async def count_inflated(request: web.Request, handler: Any) -> web.StreamResponse:
    """Tell the client how many body bytes the reader produced before the handler failed:
    for a compressed body, how much the server inflated."""
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except web.HTTPException as exc:
        exc.headers["X-Produced"] = str(request.content.total_bytes)
        raise


def bounds_app() -> web.Application:
    app = web.Application(
        client_max_size=LIMIT,
        middlewares=[count_inflated],
        handler_args={"read_bufsize": READ_BUFSIZE},
    )

    async def read(request: web.Request) -> web.Response:
        return web.Response(text=f"read {len(await request.read())}")

    async def text(request: web.Request) -> web.Response:
        return web.Response(text=f"text {len(await request.text())}")

    async def json(request: web.Request) -> web.Response:
        return web.Response(text=f"json {type(await request.json()).__name__}")

    async def post(request: web.Request) -> web.Response:
        form = await request.post()
        return web.Response(text=f"post {len(form)}")

    async def stream(request: web.Request) -> web.Response:
        # Let the client run ahead first: whatever it sent meanwhile is the server's to hold.
        await asyncio.sleep(0.3)
        content, consumed, peak = request.content, 0, 0
        while chunk := await content.readany():
            peak = max(peak, content.total_bytes - consumed)  # buffered, this chunk included
            consumed += len(chunk)
        return web.json_response({"size": consumed, "peak": peak})

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    for name, handler in (("read", read), ("text", text), ("json", json), ("post", post)):
        app.router.add_post(f"/{name}", handler)
    app.router.add_post("/stream", stream)
    app.router.add_get("/ok", ok)
    return app


class Answer:
    """One raw HTTP/1.1 response."""

    def __init__(self, head: bytes, body: bytes) -> None:
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split(b" ", 2)[1])
        self.headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.body = body

    @property
    def closes(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"


_OPEN: list[socket.socket] = []


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    """Close what a failed assertion left open (else a ResourceWarning follows it)."""
    yield
    while _OPEN:
        _OPEN.pop().close()


class Connection:
    """A raw keep-alive client connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        _OPEN.append(self.sock)
        self.data = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.data += chunk

    def answer(self) -> Answer:
        """Read one response (Content-Length or chunked)."""
        while b"\r\n\r\n" not in self.data:
            self._fill()
        head, _, self.data = self.data.partition(b"\r\n\r\n")
        answer = Answer(head, b"")
        if answer.headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.data:
                    self._fill()
                size_line, _, self.data = self.data.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                while len(self.data) < size + 2:
                    self._fill()
                body, self.data = body + self.data[:size], self.data[size + 2 :]
                if not size:
                    break
        else:
            size = int(answer.headers.get("content-length", "0"))
            while len(self.data) < size:
                self._fill()
            body, self.data = self.data[:size], self.data[size:]
        answer.body = body
        return answer

    def request(self, head: bytes, body: bytes = b"") -> Answer:
        self.send(head + body)
        return self.answer()


def post_head(path: bytes, *fields: bytes, length: int | None = None) -> bytes:
    lines = [b"POST " + path + b" HTTP/1.1", b"Host: x", *fields]
    if length is not None:
        lines.append(b"Content-Length: " + str(length).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def chunked(body: bytes, size: int = 300) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def still_serving(port: int, conn: Connection | None, answer: Answer | None = None) -> None:
    """The server answers a normal request: on the same connection unless it said it
    would close it (or there is none), else on a new one."""
    again = conn
    if again is None or answer is None or answer.closes:
        if again is not None:
            again.close()
        again = Connection(port)
    try:
        follow_up = again.request(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (follow_up.status, follow_up.body) == (200, b"ok")
    finally:
        again.close()


def assert_too_large(answer: Answer, most: int | None = None) -> int:
    """413 with aiohttp's text; the actual size it reports, at most ``most``."""
    assert answer.status == 413, (answer.status, answer.body[:200])
    match = TOO_LARGE.fullmatch(answer.body)
    assert match is not None, answer.body[:200]
    actual = int(match.group(1))
    assert actual > LIMIT and (most is None or actual <= most), actual
    return actual


def urlencoded(size: int) -> bytes:
    return b"a=" + b"x" * (size - 2)


JSON_BODY = b'{"k": "' + b"v" * 2000 + b'"}'
FORM = b"Content-Type: application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("path", "fields", "body"),
    [
        (b"/read", (), b"r" * 2000),
        (b"/text", (b"Content-Type: text/plain; charset=utf-8",), "é".encode() * 1000),
        (b"/json", (b"Content-Type: application/json",), JSON_BODY),
        (b"/post", (FORM,), urlencoded(2000)),
        (b"/post", (b"Content-Type: " + MULTIPART,), None),  # filled in below
    ],
    ids=["read", "text", "json", "post-urlencoded", "post-multipart"],
)
def test_every_reader_refuses_a_body_over_the_limit(
    serve_app: Any, path: bytes, fields: tuple[bytes, ...], body: bytes | None
) -> None:
    if body is None:
        body = multipart_body([(b"f", b"m" * 2000)])
    with serve_app(bounds_app()) as server:
        # By Content-Length, then with no length at all (chunked): 413 either way.
        for framing in ("length", "chunked"):
            conn = Connection(server.port)
            if framing == "length":
                answer = conn.request(post_head(path, *fields, length=len(body)), body)
            else:
                te = b"Transfer-Encoding: chunked"
                answer = conn.request(post_head(path, *fields, te), chunked(body))
            assert_too_large(answer, most=len(body))
            still_serving(server.port, conn, answer)
        # Under the limit the same reader answers normally (the 413 is the limit's doing).
        small = {b"/read": b"r" * 1000, b"/text": b"e" * 1000, b"/json": b'{"k": 1}'}
        ok_body = small.get(path) or (
            urlencoded(1000) if FORM in fields else multipart_body([(b"f", b"m" * 1000)])
        )
        conn = Connection(server.port)
        answer = conn.request(post_head(path, *fields, length=len(ok_body)), ok_body)
        assert answer.status == 200, answer.body[:200]
        conn.close()


def test_a_declared_length_is_refused_before_the_body_comes(serve_app: Any) -> None:
    with serve_app(bounds_app()) as server:
        for path in (b"/read", b"/post"):
            # The client declares 1 TB and sends almost nothing: no waiting for the rest.
            conn = Connection(server.port)
            started = time.monotonic()
            answer = conn.request(post_head(path, FORM, length=10**12), b"a=1")
            assert time.monotonic() - started < 3
            assert_too_large(answer, most=10**12)
            # What follows on that connection is still the declared body, never a request.
            conn.send(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
            conn.sock.settimeout(0.5)
            with pytest.raises((TimeoutError, ConnectionError)):
                conn.answer()
            conn.close()
            still_serving(server.port, None)


def test_a_refused_body_past_the_read_buffer_leaves_the_connection_usable(serve_app: Any) -> None:
    # Refused by its Content-Length, never read: the whole body (one socket read) sits in
    # the server's buffer, past the high-water mark that paused the socket. The request
    # is over, so the next one on the connection must be read (natively it waited forever).
    body = b"x" * 100_000
    with serve_app(bounds_app()) as server:
        for path in (b"/read", b"/text", b"/post"):
            conn = Connection(server.port)
            conn.sock.settimeout(5)
            answer = conn.request(post_head(path, FORM, length=len(body)), body)
            assert_too_large(answer, most=len(body))
            still_serving(server.port, conn, answer)


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_client_leaving_mid_body_fails_read_and_the_server_goes_on(
    serve_app: Any, framing: str
) -> None:
    failures: list[str] = []
    failed = threading.Event()
    app = web.Application()

    async def read(request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except ConnectionResetError as exc:
            failures.append(type(exc).__name__)
            failed.set()
            return web.Response(text="nobody to send this to")
        return web.Response(text=f"read {len(body)}")

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_post("/read", read)
    app.router.add_get("/ok", ok)
    with serve_app(app) as server:
        conn = Connection(server.port)
        if framing == "length":
            conn.send(post_head(b"/read", length=100_000) + b"x" * 3000)
        else:
            te = b"Transfer-Encoding: chunked"
            conn.send(post_head(b"/read", te) + chunked(b"x" * 3000)[:-5])  # no last chunk
        time.sleep(0.2)  # the handler is waiting in read() for the rest
        conn.close()
        assert failed.wait(5), "read() never learned that the client left"
        assert failures == ["ConnectionResetError"]
        still_serving(server.port, None)


def test_a_chunked_body_is_refused_once_over_not_at_its_end(serve_app: Any) -> None:
    with serve_app(bounds_app()) as server:
        # post() reads through read(); the other readers see chunked bodies further up.
        for path in (b"/post",):
            conn = Connection(server.port)
            conn.send(post_head(path, FORM, b"Transfer-Encoding: chunked"))
            # Over the limit, and no last chunk: the answer must come all the same (under
            # ASGI once asgiweb has waited a second for the rest, to keep the connection).
            conn.send(b"".join(b"200\r\n" + b"x" * 0x200 + b"\r\n" for _ in range(4)))
            answer = conn.answer()
            assert_too_large(answer, most=4 * 0x200)
            conn.close()
            still_serving(server.port, None)


def compress(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(data, compresslevel=9)
    if coding == "deflate":
        return zlib.compress(data, 9)
    raw = zlib.compressobj(9, wbits=-zlib.MAX_WBITS)
    return raw.compress(data) + raw.flush()


@functools.cache
def bombs() -> dict[str, bytes]:
    """64 MiB of zeros, compressed each way a request body may be (some 64 KiB each)."""
    zeros = b"\0" * (64 * 1024 * 1024)
    return {coding: compress(coding, zeros) for coding in ("gzip", "deflate", "raw-deflate")}


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
def test_a_decompression_bomb_is_refused_after_inflating_about_the_limit(
    serve_app: Any, coding: str
) -> None:
    encoding = b"Content-Encoding: " + coding.removeprefix("raw-").encode()
    # Under the limit as sent (~900 bytes for 896 KiB), and sent with no length at all.
    small = compress(coding, b"\0" * (896 * 1024))
    assert len(small) < LIMIT
    bomb = bombs()[coding]
    te = b"Transfer-Encoding: chunked"
    with serve_app(bounds_app()) as server:
        for path, fields in ((b"/read", ()), (b"/json", ()), (b"/post", (FORM,))):
            for head, body in (
                (post_head(path, encoding, *fields, length=len(small)), small),
                (post_head(path, encoding, *fields, te), chunked(bomb, 2**14)),
                (post_head(path, encoding, *fields, length=len(bomb)), bomb),
            ):
                conn = Connection(server.port)
                started = time.monotonic()
                answer = conn.request(head, body)
                assert time.monotonic() - started < 5
                # The reader stops within one 64 KiB inflation step of the limit (or, for
                # a declared length over it, before inflating anything).
                assert_too_large(answer, most=max(LIMIT + 2**16, len(body)))
                assert int(answer.headers["x-produced"]) <= LIMIT + 2**16, answer.headers
                still_serving(server.port, conn, answer)


def multipart_body(
    parts: list[tuple[bytes, bytes]], extra_headers: bytes = b"", filename: bool = False
) -> bytes:
    out = []
    for name, value in parts:
        disposition = b'Content-Disposition: form-data; name="' + name + b'"'
        if filename:
            disposition += b'; filename="' + name + b'.bin"'
        out.append(b"--" + BOUNDARY + b"\r\n" + disposition + b"\r\n" + extra_headers
                   + b"\r\n" + value + b"\r\n")  # fmt: skip
    return b"".join(out) + b"--" + BOUNDARY + b"--\r\n"


def header_lines(count: int, size: int) -> bytes:
    return b"".join(b"X-H%d: " % i + b"v" * size + b"\r\n" for i in range(count))


MULTIPART_CASES = {
    # Many small fields whose sum is over the limit.
    "many-small-fields": (multipart_body([(b"f%d" % i, b"0123456789") for i in range(200)]), 413),
    "many-small-files": (
        multipart_body([(b"f%d" % i, b"0123456789") for i in range(200)], filename=True),
        413,
    ),
    # Empty fields cost memory no byte count sees: aiohttp 3.14's 1000-field cap.
    "too-many-empty-fields": (multipart_body([(b"e%d" % i, b"") for i in range(1500)]), 413),
    # One part header line longer than 8190 bytes.
    "huge-part-header": (multipart_body([(b"a", b"1")], header_lines(1, 9000)), 400),
    # More than 128 header lines in one part.
    "numerous-part-headers": (multipart_body([(b"a", b"1")], header_lines(200, 10)), 400),
    # Part headers within the line and count limits, but more than the form's budget for
    # them: client_max_size, or 64 KiB if larger (file fields keep their headers).
    "header-bytes-over-the-budget": (
        multipart_body([(b"a", b"1")], header_lines(120, 1000)),
        413,
    ),
    "header-bytes-kept-by-files": (
        multipart_body([(b"f%d" % i, b"") for i in range(100)], header_lines(10, 100), True),
        413,
    ),
    # A part whose own Content-Encoding inflates past the limit.
    "compressed-part": (
        multipart_body([(b"z", gzip.compress(b"\0" * 2**20))], b"Content-Encoding: gzip\r\n"),
        413,
    ),
}


@pytest.mark.parametrize("case", list(MULTIPART_CASES))
def test_multipart_forms_stay_within_the_limit(serve_app: Any, case: str) -> None:
    body, status = MULTIPART_CASES[case]
    fields = (b"Content-Type: " + MULTIPART,)
    with serve_app(bounds_app()) as server:
        for framing in ("length", "chunked"):
            conn = Connection(server.port)
            if framing == "length":
                answer = conn.request(post_head(b"/post", *fields, length=len(body)), body)
            else:
                te = b"Transfer-Encoding: chunked"
                answer = conn.request(post_head(b"/post", *fields, te), chunked(body, 4096))
            assert answer.status == status, (framing, answer.status, answer.body[:300])
            if case == "too-many-empty-fields":
                assert answer.body == b"Maximum number of form fields 1000 exceeded."
            elif case.startswith("header-bytes"):
                assert answer.body == b"Maximum size of multipart part headers 65536 exceeded."
            elif status == 413:
                assert_too_large(answer)
            else:
                assert answer.body.startswith(b"Malformed multipart body: "), answer.body[:200]
            still_serving(server.port, conn, answer)


def test_streaming_content_is_not_held_to_the_limit_but_stays_buffered_boundedly(
    serve_app: Any,
) -> None:
    size = 8 * 1024 * 1024
    body = bytes(range(256)) * (size // 256)
    with serve_app(bounds_app()) as server:
        for framing in ("length", "chunked"):
            conn = Connection(server.port)
            if framing == "length":
                conn.send(post_head(b"/stream", length=size))
                conn.send(body)
            else:
                conn.send(post_head(b"/stream", b"Transfer-Encoding: chunked"))
                conn.send(chunked(body, 2**16))
            answer = conn.answer()
            assert answer.status == 200, answer.body[:200]
            result = web_json(answer.body)
            assert result["size"] == size  # client_max_size is for read() and post() only
            # The handler slept while 8 MiB came: the server held back, past read_bufsize
            # (pausing the socket), no more than one socket read (256 KiB) more.
            assert result["peak"] <= 2 * READ_BUFSIZE + 256 * 1024, result
            still_serving(server.port, conn, answer)
        # A compressed body streams too, inflated piece by piece as it is read.
        bomb = bombs()["gzip"]
        conn = Connection(server.port)
        answer = conn.request(
            post_head(b"/stream", b"Content-Encoding: gzip", length=len(bomb)), bomb
        )
        result = web_json(answer.body)
        assert result["size"] == 64 * 1024 * 1024 and result["peak"] <= 2**16, result
        still_serving(server.port, conn, answer)


def web_json(body: bytes) -> dict[str, Any]:
    import json

    value = json.loads(body)
    assert isinstance(value, dict)
    return value
