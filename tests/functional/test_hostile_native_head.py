"""Hostile heads, trailers and framing against the native server over raw sockets (issue 16).

Each bad request gets its answer (or a close), and then a normal request on a new connection
must still be answered.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator

import pytest
from servers import RunningServer, serve

from asgiweb import web

SEEN: web.AppKey[list[str]] = web.AppKey("seen", list)
CHUNKED_HEAD = b"POST /h HTTP/1.1\r\nHost: good.example\r\nTransfer-Encoding: chunked\r\n\r\n"


def app() -> web.Application:
    async def headers(request: web.Request) -> web.Response:
        body = await request.read()
        seen = request.app[SEEN]
        seen.append(request.path)
        return web.json_response(
            {
                "host": request.headers.get("Host"),
                "hosts": request.headers.getall("Host", []),
                "x_injected": request.headers.get("X-Injected"),
                "body": body.decode(),
            }
        )

    application = web.Application()
    application[SEEN] = []
    application.router.add_route("*", "/{tail:.*}", headers)
    return application


@pytest.fixture
def native() -> Iterator[tuple[RunningServer, web.Application]]:
    application = app()
    with serve(application, "native") as server:
        yield server, application


def connect(server: RunningServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def read_until_closed(sock: socket.socket, deadline: float = 5.0) -> bytes:
    data = b""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def still_serving(server: RunningServer) -> None:
    """A normal request on a new connection is answered."""
    with connect(server) as sock:
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = read_until_closed(sock)
    assert response.startswith(b"HTTP/1.1 200 "), response[:200]


def send_until_answered(
    sock: socket.socket, head: bytes, body: Iterator[bytes]
) -> tuple[int, bytes]:
    """Send ``head`` then ``body`` pieces until the server answers; (bytes sent, answer)."""
    sent = 0
    sock.sendall(head)
    for piece in body:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
    return sent, read_until_closed(sock)


def test_a_trailer_never_rewrites_the_request_headers(
    native: tuple[RunningServer, web.Application],
) -> None:
    server, _ = native
    with connect(server) as sock:
        sock.sendall(
            CHUNKED_HEAD + b"3\r\nabc\r\n0\r\nHost: evil.example\r\nX-Injected: 1\r\n\r\n"
            b"GET /after HTTP/1.1\r\nHost: next.example\r\nConnection: close\r\n\r\n"
        )
        response = read_until_closed(sock)
    assert response.count(b"HTTP/1.1 200 ") == 2, response
    first, second = response.split(b"HTTP/1.1 200 ")[1:]
    assert b'"host": "good.example"' in first
    assert b'"hosts": ["good.example"]' in first
    assert b'"x_injected": null' in first
    assert b'"body": "abc"' in first
    assert b'"host": "next.example"' in second
    still_serving(server)


def test_a_huge_head_is_refused_before_it_is_all_sent(
    native: tuple[RunningServer, web.Application],
) -> None:
    server, application = native
    line = b"X-Filler-%04d: " + b"a" * 8170 + b"\r\n"  # just under the 8,190-byte field limit
    with connect(server) as sock:
        sent, response = send_until_answered(
            sock, b"GET /big HTTP/1.1\r\nHost: x\r\n", (line % i for i in range(1200))
        )
    # Answered while the client was still sending (kernel buffers absorb a few MB).
    assert sent < 1200 * len(line)
    assert status_of(response) == 431
    assert application[SEEN] == []
    still_serving(server)


def test_too_many_header_fields_is_400() -> None:
    application = app()
    with serve(application, "native", max_headers=128) as server:
        with connect(server) as sock:
            fields = b"".join(b"X-%d: v\r\n" % i for i in range(200))
            sock.sendall(b"GET /many HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
            response = read_until_closed(sock)
        assert status_of(response) == 400
        assert b"Too many headers: more than 128" in response
        assert application[SEEN] == []
        still_serving(server)


def test_an_unterminated_trailer_line_is_refused(
    native: tuple[RunningServer, web.Application],
) -> None:
    server, _ = native
    piece = b"a" * 65536
    with connect(server) as sock:
        sent, response = send_until_answered(
            sock, CHUNKED_HEAD + b"3\r\nabc\r\n0\r\nX-Long: ", (piece for _ in range(64))
        )
    assert sent < 64 * len(piece)  # answered before the 4 MiB were all sent
    assert status_of(response) == 400
    still_serving(server)


@pytest.mark.parametrize("host", [b"a b@evil", b"a@evil", b"evil/x", b"h:8o"])
def test_an_invalid_host_is_400(native: tuple[RunningServer, web.Application], host: bytes) -> None:
    server, application = native
    with connect(server) as sock:
        sock.sendall(b"GET /h HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        response = read_until_closed(sock)
    assert status_of(response) == 400
    assert application[SEEN] == []
    still_serving(server)


def test_a_transfer_coding_other_than_chunked_is_501_and_closes(
    native: tuple[RunningServer, web.Application],
) -> None:
    server, application = native
    with connect(server) as sock:
        sock.sendall(
            b"POST /gz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        response = read_until_closed(sock)
    assert status_of(response) == 501
    assert response.count(b"HTTP/1.1 ") == 1
    assert b"connection: close" in response.lower()
    assert application[SEEN] == []
    still_serving(server)


@pytest.mark.parametrize("keep_alive", [b"", b"Connection: keep-alive\r\n"])
def test_transfer_encoding_in_http10_never_lets_its_body_become_a_request(
    native: tuple[RunningServer, web.Application], keep_alive: bytes
) -> None:
    server, application = native
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(server) as sock:
        sock.sendall(
            b"POST /te10 HTTP/1.0\r\nHost: x\r\n"
            + keep_alive
            + b"Transfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % len(smuggled)
            + smuggled
            + b"\r\n0\r\n\r\n"
            b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        response = read_until_closed(sock)
    assert status_of(response) == 400
    assert response.count(b"HTTP/1.1 ") == 1
    assert "/smuggled" not in application[SEEN]
    assert "/second" not in application[SEEN]
    still_serving(server)
