"""The native server's header_read_timeout: a head that takes too long gets 408 and a close.

A slow-header client (slowloris) holds a connection by sending its head a byte at a
time; the bound runs from the head's first byte, whatever arrives later. An idle
keep-alive connection is keepalive_timeout's business, not this one's.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from servers import RunningServer, serve, wait_listening

from asgiweb import web

TIMEOUT = 0.4


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


@pytest.fixture
def server() -> Iterator[RunningServer]:
    app = web.Application()
    app.router.add_get("/", hello)
    with serve(app, "native", header_read_timeout=TIMEOUT) as running:
        yield running


def _read_all(sock: socket.socket, limit: float = 5.0) -> bytes:
    sock.settimeout(limit)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_stalled_head_gets_408_and_a_close(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        answer = _read_all(sock)
        took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert b"Connection: close" in answer
    assert TIMEOUT * 0.8 < took < TIMEOUT + 2


def test_a_trickled_head_is_timed_from_its_first_byte(server: RunningServer) -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        started = time.monotonic()
        sent = 0
        try:
            for byte in head:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.01)
        except OSError:  # the server closed while we were still sending
            pass
        answer = _read_all(sock)
        took = time.monotonic() - started
    assert sent < len(head), "the whole head went through: nothing was timed"
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert took < TIMEOUT + 2


def test_idle_keep_alive_and_slow_but_timely_heads_are_served(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        time.sleep(TIMEOUT * 2)  # idle between requests: not a head in progress
        sock.sendall(b"GET / HTTP/1.1\r\n")
        time.sleep(TIMEOUT / 3)
        sock.sendall(b"Host: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        # Two slow heads in a row: each gets its own time.
        for _ in range(2):
            sock.sendall(b"GET / HTTP/1.1\r\n")
            time.sleep(TIMEOUT * 0.6)
            sock.sendall(b"Host: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_on_by_default_and_can_be_switched_off() -> None:
    from native_server.server import Server

    assert Server(hello).header_read_timeout == 30.0

    app = web.Application()
    app.router.add_get("/", hello)
    with serve(app, "native", header_read_timeout=None) as running:
        with socket.create_connection(("127.0.0.1", running.port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            sock.settimeout(TIMEOUT * 2)
            with pytest.raises(TimeoutError):
                sock.recv(65536)  # nothing: the server waits for the rest of the head
            sock.sendall(b"\r\n")
            sock.settimeout(5)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_run_app_takes_it() -> None:
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    program = (
        "from asgiweb import web\n"
        f"web.run_app(web.Application(), host='127.0.0.1', port={port}, "
        f"header_read_timeout={TIMEOUT}, print=None)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", program])
    try:
        wait_listening(port, 15)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n")
            assert _read_all(sock).startswith(b"HTTP/1.1 408 ")
    finally:
        process.terminate()
        process.wait(10)
