"""The native server over a raw socket: an upgrade answered in HTTP, absolute-form targets,
header limits."""

from __future__ import annotations

import json
import socket

import h11
import pytest
from servers import serve

from asgiweb import web

UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)


def app() -> web.Application:
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=401, text="no")

    async def accept(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close()
        return ws

    async def where(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "host": request.host,
                "url": str(request.url),
                "scheme": request.scheme,
                "path_qs": request.path_qs,
            }
        )

    application = web.Application()
    application.router.add_get("/ws", refuse)
    application.router.add_get("/ws-ok", accept)
    application.router.add_get("/{tail:.*}", where)
    return application


def read_responses(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Up to ``count`` responses read with h11 (a client we did not write), fewer if the
    server closes first."""
    results: list[tuple[int, dict[str, str], bytes]] = []
    pending = b""
    closed = False
    while len(results) < count:
        conn = h11.Connection(h11.CLIENT)
        conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        if pending:
            conn.receive_data(pending)  # b"" would tell h11 the connection closed
        status, headers, body = 0, {}, b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = b"" if closed else sock.recv(65536)
                if not data:
                    return results
                conn.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                results.append((status, headers, body))
                pending = conn.trailing_data[0]
                closed = conn.trailing_data[1]
                break
    return results


@pytest.fixture(params=["asyncio", "uvloop"])
def loop_name(request: pytest.FixtureRequest) -> str:
    """The upgrade tests on each loop: on uvloop the protocol is a plain one, whose reads
    the transport hands to whatever data_received is set after an upgrade."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    return str(request.param)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_an_upgrade_answered_with_401_leaves_the_connection_in_http(loop_name: str) -> None:
    with serve(app(), "native", loop=loop_name) as server, connect(server.port) as sock:
        sock.sendall(UPGRADE)
        ((status, headers, body),) = read_responses(sock, 1)
        assert (status, body) == (401, b"no")
        assert headers.get("connection") != "close"
        sock.sendall(b"GET /next HTTP/1.1\r\nHost: localhost\r\n\r\n")
        ((status, _, body),) = read_responses(sock, 1)
        assert status == 200 and json.loads(body)["path_qs"] == "/next"


def test_requests_sent_right_behind_a_refused_upgrade_are_served(loop_name: str) -> None:
    # The bytes after the upgrade head were kept for a WebSocket that never opened.
    with serve(app(), "native", loop=loop_name) as server, connect(server.port) as sock:
        sock.sendall(
            UPGRADE
            + b"GET /two HTTP/1.1\r\nHost: localhost\r\n\r\n"
            + b"GET /three HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
        got = read_responses(sock, 3)
        assert [status for status, _, _ in got] == [401, 200, 200]
        assert [json.loads(body)["path_qs"] for _, _, body in got[1:]] == ["/two", "/three"]


def test_a_refused_upgrade_then_an_accepted_one_on_the_same_connection(loop_name: str) -> None:
    with serve(app(), "native", loop=loop_name) as server, connect(server.port) as sock:
        sock.sendall(UPGRADE)
        assert [status for status, _, _ in read_responses(sock, 1)] == [401]
        sock.sendall(UPGRADE.replace(b"/ws ", b"/ws-ok ") + b"\x88\x80abcd")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        # The switch, then the server's close frame (code 1000), then the end.
        assert data.startswith(b"HTTP/1.1 101 ")
        assert data.endswith(b"\x88\x02\x03\xe8")


def test_an_upgrade_body_then_the_next_request(loop_name: str) -> None:
    request = (
        b"POST /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: other\r\n"
        b"Content-Length: 4\r\n\r\nbody"
    )
    with serve(app(), "native", loop=loop_name) as server, connect(server.port) as sock:
        sock.sendall(request + b"GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n")
        got = read_responses(sock, 2)
        # No POST route: 405, and the connection goes on.
        assert [status for status, _, _ in got] == [405, 200]
        assert json.loads(got[1][2])["path_qs"] == "/after"


def test_garbage_after_a_refused_upgrade_is_answered_400_and_closed(loop_name: str) -> None:
    with serve(app(), "native", loop=loop_name) as server, connect(server.port) as sock:
        sock.sendall(UPGRADE + b"\x81\x85not http at all\r\n\r\n")
        got = read_responses(sock, 2)
        assert [status for status, _, _ in got] == [401, 400]
        assert sock.recv(10) == b""


def test_an_accepted_websocket_still_ends_http(loop_name: str) -> None:
    with serve(app(), "native", loop=loop_name) as server, connect(server.port) as sock:
        sock.sendall(UPGRADE.replace(b"/ws ", b"/ws-ok ") + b"\x88\x80abcd")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 101 ")


@pytest.mark.parametrize(
    "target, host, url",
    [
        (
            b"http://other.example:8080/p?q=1",
            "other.example:8080",
            "http://other.example:8080/p?q=1",
        ),
        (b"https://user@other.example/p", "other.example", "https://other.example/p"),
    ],
)
def test_an_absolute_form_target_names_the_host(target: bytes, host: str, url: str) -> None:
    # RFC 9112 3.2.2: the server uses the target's authority and ignores Host.
    with serve(app(), "native") as server, connect(server.port) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
        ((status, _, body),) = read_responses(sock, 1)
        info = json.loads(body)
        assert status == 200
        assert (info["host"], info["url"]) == (host, url)
        assert info["scheme"] == url.partition(":")[0]


def test_origin_form_uses_the_host_header() -> None:
    with serve(app(), "native") as server, connect(server.port) as sock:
        sock.sendall(b"GET /p?q=1 HTTP/1.1\r\nHost: localhost:1234\r\n\r\n")
        ((_, _, body),) = read_responses(sock, 1)
        assert json.loads(body)["url"] == "http://localhost:1234/p?q=1"


@pytest.mark.parametrize(
    "head, reason",
    [
        (
            b"Long-Header: " + b"ab" * 8129 + b"\r\n",
            "Got more than 8190 bytes (16258) when reading Header value is too long.",
        ),
        (b"X: 1\r\n" * 11, "Too many headers: more than 10"),
    ],
)
def test_header_limits_answer_400_as_aiohttp(head: bytes, reason: str) -> None:
    with serve(app(), "native", max_headers=10) as server, connect(server.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n" + head + b"\r\n")
        ((status, headers, body),) = read_responses(sock, 1)
        assert status == 400 and headers["connection"] == "close"
        assert reason in body.decode()
