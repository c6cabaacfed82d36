"""The hostile-input corpus over real loopback sockets (issue 16).

Part one: every case of tests/hostile_corpus.py against the native server: the bytes go out
as the case splits them, the responses must be the case's statuses in order, the connection
must close when the case says so, and afterwards a normal request on a new connection must
still be answered 200.

Part two: what is asgiweb's own on every path (native, uvicorn, hypercorn): body limits,
header injection from a handler, normalize_path_middleware redirects, WebSocket limits.
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest
from hostile_corpus import CORPUS, Case
from servers import PATHS, RunningServer, serve
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from asgiweb import web

SEEN: web.AppKey[list[str]] = web.AppKey("seen", list)
#: How long a case may take to be answered (or closed) before it counts as a hang.
ANSWER_WITHIN = 3.0


class Response(NamedTuple):
    status: int
    head: bytes
    body: bytes


# -- a client that reads responses one by one ----------------------------------------------


class Reader:
    """Reads HTTP/1.1 responses framed by Content-Length (all the servers here send it)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.closed = False

    def _more(self, deadline: float) -> bool:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            return False
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        except TimeoutError:
            return False
        if not chunk:
            self.closed = True
            return False
        self.buffer += chunk
        return True

    def response(self, deadline: float) -> Response | None:
        while b"\r\n\r\n" not in self.buffer:
            if not self._more(deadline):
                return None
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        size = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                size = int(value)
        while len(rest) < size:
            if not self._more(deadline):
                return None
            rest = self.buffer.partition(b"\r\n\r\n")[2]
        self.buffer = rest[size:]
        return Response(int(head.split(b" ", 2)[1]), head, rest[:size])

    def wait_closed(self, deadline: float) -> bool:
        while not self.closed:
            if not self._more(deadline) and not self.closed:
                return False
        return True


def send_pieces(sock: socket.socket, sends: tuple[bytes, ...], answers: int) -> None:
    """Each piece in its own send. A case answered once (a request never terminated, say)
    stops sending once the server has answered or closed; a pipelining case sends all."""
    for i, piece in enumerate(sends):
        if i:
            time.sleep(0.002)  # lets the server read the pieces one by one
            readable, _, _ = select.select([sock], [], [], 0)
            if readable and answers <= 1:
                return
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return


def run_case(port: int, case: Case) -> tuple[list[Response], Reader]:
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        send_pieces(sock, case.sends, len(case.statuses))
        if case.shut_wr:
            sock.shutdown(socket.SHUT_WR)
        reader = Reader(sock)
        deadline = time.monotonic() + ANSWER_WITHIN
        responses = []
        for _ in case.statuses:
            response = reader.response(deadline)
            if response is None:
                break
            responses.append(response)
        if case.closes:
            reader.wait_closed(deadline)
        return responses, reader


def still_serving(port: int) -> None:
    """A normal request on a new connection is answered 200."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN) as sock:
        sock.sendall(b"GET /alive HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        response = Reader(sock).response(time.monotonic() + ANSWER_WITHIN)
    assert response is not None and response.status == 200, response


# -- the echo app --------------------------------------------------------------------------


async def echo(request: web.Request) -> web.Response:
    if request.path == "/slow":
        await asyncio.sleep(0.2)  # the next requests queue up behind this one
    body = await request.read()
    request.app[SEEN].append(request.path)
    text = (
        f"{request.method} host={request.host} path={request.path} "
        f"hosts={len(request.headers.getall('Host', []))} "
        f"injected={request.headers.get('X-Injected')} body={body!r}"
    )
    return web.Response(text=text)


def echo_app() -> web.Application:
    app = web.Application()
    app[SEEN] = []
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.fixture(scope="module")
def native() -> Iterator[tuple[RunningServer, web.Application]]:
    app = echo_app()
    with serve(app, "native") as server:
        yield server, app


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_hostile_corpus_on_native(
    native: tuple[RunningServer, web.Application], case: Case
) -> None:
    server, app = native
    responses, reader = run_case(server.port, case)
    statuses = tuple(r.status for r in responses)
    assert statuses == case.statuses, (statuses, [r.body[:200] for r in responses])
    if case.closes:
        assert reader.closed, "the server did not close the connection"
    else:
        assert not reader.closed, "the server closed a connection it should keep"
    if case.expect_in:
        assert case.expect_in in responses[-1].body, responses[-1].body
    assert not [path for path in app[SEEN] if "smuggled" in path]
    still_serving(server.port)


def test_the_corpus_covers_every_class() -> None:
    kinds: dict[str, int] = {}
    for case in CORPUS:
        kinds[case.kind] = kinds.get(case.kind, 0) + 1
    assert len({case.id for case in CORPUS}) == len(CORPUS), "case ids must be unique"
    assert min(kinds.values()) >= 3, kinds


# -- part two: asgiweb's own behaviour, on every path ---------------------------------------

MAX_BODY = 1024  # client_max_size of the app below
MAX_MSG = 64 * 1024  # max_msg_size of its WebSocket handler


def exchange(port: int, data: bytes) -> Response:
    """One request on a new connection; its response."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN) as sock:
        send_pieces(sock, (data,), 1)
        response = Reader(sock).response(time.monotonic() + ANSWER_WITHIN)
    assert response is not None, "no response"
    return response


def header_lines(response: Response) -> list[bytes]:
    return response.head.split(b"\r\n")[1:]


async def upload(request: web.Request) -> web.Response:
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.post()
        return web.Response(text=f"fields={len(form)}")
    return web.Response(text=f"read={len(await request.read())}")


async def page(request: web.Request) -> web.Response:
    return web.Response(text="page")


async def ws_echo(request: web.Request) -> web.WebSocketResponse[bool]:
    ws: web.WebSocketResponse[bool] = web.WebSocketResponse(max_msg_size=MAX_MSG)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type in (web.WSMsgType.TEXT, web.WSMsgType.BINARY):
            await ws.send_bytes(len(msg.data).to_bytes(8, "big"))
    return ws


async def header_echo(request: web.Request) -> web.Response:
    return web.Response(text="echoed", headers={"X-Echo": request.headers.get("X-In", "")})


async def ws_header_echo(request: web.Request) -> web.WebSocketResponse[bool]:
    ws: web.WebSocketResponse[bool] = web.WebSocketResponse()
    ws.headers["X-Echo"] = request.headers.get("X-In", "")  # goes out with the 101
    await ws.prepare(request)
    await ws.close()
    return ws


def own_app() -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[web.normalize_path_middleware()])
    app.router.add_post("/upload", upload)
    app.router.add_get("/header-echo", header_echo)
    app.router.add_get("/ws-header-echo", ws_header_echo)
    app.router.add_get("/ws", ws_echo)
    app.router.add_get("/{name}/", page)  # where a path without its slash is redirected
    app.router.add_get("/a/b/", page)
    return app


@pytest.fixture(scope="module", params=PATHS)
def any_path(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    with serve(own_app(), request.param) as server:
        yield server


def upload_request(headers: bytes, body: bytes) -> bytes:
    return b"POST /upload HTTP/1.1\r\nHost: h\r\nConnection: close\r\n" + headers + b"\r\n" + body


def _multipart(size: int) -> bytes:
    part = b'--B\r\nContent-Disposition: form-data; name="f"\r\n\r\n' + b"m" * size
    body = part + b"\r\n--B--\r\n"
    return upload_request(
        b"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: %d\r\n" % len(body),
        body,
    )


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


BODY_LIMITS = [
    # aiohttp: 413 once a body read whole (read, text, json, post) passes client_max_size.
    ("length-at-limit", upload_request(b"Content-Length: 1024\r\n", b"a" * 1024), 200),
    ("length-over-limit", upload_request(b"Content-Length: 1025\r\n", b"a" * 1025), 413),
    ("chunked-over-limit", upload_request(b"Transfer-Encoding: chunked\r\n",
     b"401\r\n" + b"a" * 1025 + b"\r\n0\r\n\r\n"), 413),
    ("chunked-many-small-chunks-over-limit", upload_request(b"Transfer-Encoding: chunked\r\n",
     b"1\r\na\r\n" * 1100 + b"0\r\n\r\n"), 413),
    ("gzip-inflating-over-limit", upload_request(b"Content-Encoding: gzip\r\n"
     b"Content-Length: %d\r\n" % len(_gzip(b"\x00" * 100_000)), _gzip(b"\x00" * 100_000)), 413),
    ("form-over-limit", upload_request(b"Content-Type: application/x-www-form-urlencoded\r\n"
     b"Content-Length: 2000\r\n", b"a=" + b"b" * 1998), 413),
    ("multipart-over-limit", _multipart(2000), 413),
]  # fmt: skip


@pytest.mark.parametrize(
    "data, status", [case[1:] for case in BODY_LIMITS], ids=[case[0] for case in BODY_LIMITS]
)
def test_body_limits(any_path: RunningServer, data: bytes, status: int) -> None:
    assert exchange(any_path.port, data).status == status
    still_serving_own(any_path.port)


def test_unknown_expectation_in_undecodable_bytes_is_417(any_path: RunningServer) -> None:
    # Found by the long wire fuzz: the 417's text quoted the value, whose bytes that are
    # not UTF-8 arrive as surrogates, and encoding that body failed: a 500 and an error
    # in the log (aiohttp answers 500 too). The server's error log fails this test.
    request = upload_request(b"Expect: \xda\xffmagic\r\nContent-Length: 2\r\n", b"hi")
    response = exchange(any_path.port, request)
    assert response.status == 417
    assert response.body == b"Unknown Expect: ??magic"
    still_serving_own(any_path.port)


def test_header_value_copied_from_the_request_keeps_its_bytes(any_path: RunningServer) -> None:
    # Bytes that are not UTF-8 in a request header (obs-text, RFC 9110 5.5) reach the
    # handler as surrogates; a handler that copies the value into a response header (CORS
    # echoing Origin, say) used to make encoding the head fail: a 500 and an error logged.
    request = b"GET /header-echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
    response = exchange(any_path.port, request + b"X-In: a\xda\xffb\r\n\r\n")
    assert response.status == 200
    assert b"x-echo: a\xda\xffb" in [line.lower() for line in header_lines(response)]
    assert response.body == b"echoed"


def test_handshake_header_copied_from_the_request_keeps_its_bytes(
    any_path: RunningServer,
) -> None:
    # The same for a WebSocket's 101: under ASGI its fields travel in websocket.accept.
    request = (
        b"GET /ws-header-echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nX-In: a\xda\xffb\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", any_path.port), timeout=ANSWER_WITHIN) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, f"closed before the handshake's answer: {head!r}"
            head += chunk
    lines = head.partition(b"\r\n\r\n")[0].split(b"\r\n")
    assert lines[0].startswith(b"HTTP/1.1 101"), lines[0]
    assert b"x-echo: a\xda\xffb" in [line.lower() for line in lines[1:]]


def still_serving_own(port: int) -> None:
    response = exchange(port, b"GET /a/b/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert response.status == 200, response


# The path part of a redirect must stay on this host: never "//host" nor "/\host" (which
# browsers read as "//host"): the open-redirect class of aiohttp's GHSA-v6wp-4m6f-gcjg.
REDIRECTS = [
    ("double-slash", b"//evil.com", 308),
    ("triple-slash", b"///evil.com", 308),
    ("double-slash-trailing", b"//evil.com//", 308),
    ("backslash", b"/\\evil.com", 308),
    ("slash-backslash-slash", b"/\\/evil.com", 404),
    ("double-slash-backslash", b"//\\evil.com", 308),
    ("encoded-slashes", b"/%2F%2Fevil.com", 308),
    ("encoded-backslash", b"/%5Cevil.com", 308),
    ("absolute-form-double-slash", b"http://h//evil.com", 308),
    ("merged-inner-slashes", b"/a//b", 308),
    ("with-query", b"//evil.com?next=//evil.com", 308),
]


@pytest.mark.parametrize(
    "target, status", [case[1:] for case in REDIRECTS], ids=[case[0] for case in REDIRECTS]
)
def test_normalize_path_redirects_stay_on_the_host(
    any_path: RunningServer, target: bytes, status: int
) -> None:
    response = exchange(
        any_path.port, b"GET " + target + b" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    )
    assert response.status == status
    for line in header_lines(response):
        name, _, value = line.partition(b":")
        if name.lower() == b"location":
            location = value.strip()
            assert location[:1] == b"/" and location[1:2] not in (b"/", b"\\"), location


def _ws(server: RunningServer) -> str:
    return server.url.replace("http://", "ws://", 1) + "/ws"


WS_LIMITS: list[tuple[str, Callable[[Any], None], int | None]] = [
    ("binary-at-limit", lambda ws: ws.send(b"x" * MAX_MSG), None),
    ("binary-over-limit", lambda ws: ws.send(b"x" * (MAX_MSG + 1)), 1009),
    ("text-over-limit", lambda ws: ws.send("x" * (MAX_MSG + 1)), 1009),
    ("fragments-over-limit", lambda ws: ws.send([b"y" * 1024] * 65), 1009),
    ("many-small-fragments-at-limit", lambda ws: ws.send([b"z" * 64] * 1024), None),
    # Compressed by the client (permessage-deflate, which every path negotiates here):
    # 1 MiB of zeros is a few KiB on the wire; the limit holds for the inflated size.
    ("compressed-over-limit", lambda ws: ws.send(b"\x00" * (1024 * 1024)), 1009),
]


@pytest.mark.parametrize(
    "send, code", [case[1:] for case in WS_LIMITS], ids=[case[0] for case in WS_LIMITS]
)
def test_websocket_message_limits(
    any_path: RunningServer, send: Callable[[Any], None], code: int | None
) -> None:
    with ws_connect(_ws(any_path), max_size=None, open_timeout=5) as ws:
        if code is None:
            send(ws)
            reply = ws.recv(timeout=5)
            assert isinstance(reply, bytes) and int.from_bytes(reply, "big") == MAX_MSG
            return
        with pytest.raises(ConnectionClosed) as info:
            send(ws)  # the server may close while the message still goes out
            ws.recv(timeout=5)
    assert info.value.rcvd is not None and info.value.rcvd.code == code
    still_serving_own(any_path.port)


async def inject(request: web.Request) -> web.StreamResponse:
    what = request.match_info["what"]
    bad = "a\r\nX-Injected: 1"
    if what == "value":
        return web.Response(text="x", headers={"X-A": bad})
    if what == "value-lf":
        return web.Response(text="x", headers={"X-A": bad.replace("\r", "")})
    if what == "name":
        return web.Response(text="x", headers={"X-A\r\nX-Injected": "1"})
    if what == "reason":
        return web.Response(text="x", reason=bad)
    if what == "content-type":
        return web.Response(text="x", content_type="text/plain\r\nX-Injected: 1")
    if what == "location":
        raise web.HTTPFound("/a" + bad)
    if what == "cookie":
        response = web.Response(text="x")
        response.set_cookie("c", bad)
        return response
    stream = web.StreamResponse()  # "stream": the head is sent at prepare()
    stream.headers["X-A"] = bad
    await stream.prepare(request)
    await stream.write(b"x")
    return stream


# A handler that puts CR or LF in a header or the reason must never split the response:
# refused (500, logged) or the value made harmless (encoded), never a header of its own.
INJECTIONS = [
    ("value", 500),
    ("value-lf", 500),
    ("name", 500),
    ("reason", 500),
    ("content-type", 500),
    ("stream", 500),
    ("location", 302),
    ("cookie", 200),
]


@pytest.mark.parametrize("what, status", INJECTIONS, ids=[case[0] for case in INJECTIONS])
def test_header_injection_never_splits_the_response(serve_app: Any, what: str, status: int) -> None:
    app = web.Application()
    app.router.add_get("/inject/{what}", inject)
    # A server of its own per case (not one per module): each 500 must log its error, and
    # with xdist a module-wide server could be left only the cases that log none.
    with serve_app(app, expect_errors=status == 500) as server:
        response = exchange(
            server.port,
            b"GET /inject/" + what.encode() + b" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        )
    assert response.status == status
    names = [line.partition(b":")[0].strip().lower() for line in header_lines(response)]
    assert b"x-injected" not in names, response.head
    assert b"\r\nX-Injected" not in response.body
