"""Under an ASGI server, what the application holds for one connection stays bounded by
the server's flow control, however slowly the client reads or the handler consumes.

Both tests count bytes honestly at the ASGI boundary: a wrapper around the application
counts the body bytes it hands to ``send`` (or takes from ``receive``), and the other end
counts what it really consumed.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import serve

from asgiweb import web
from asgiweb.asgi.sink import ASGI_FILE_CHUNK

KINDS = ["uvicorn", "hypercorn"]
# What asyncio's transports buffer before they pause writing (both servers keep the
# default): a server stops taking body messages once its buffer is past it.
TRANSPORT_HIGH_WATER = 64 * 1024
# Above that mark: the message written last, the one waiting for the drain, and one more
# for the framing bytes and for the moment between reading the kernel's queues and the
# counter.
APP_SIDE_BOUND = TRANSPORT_HIGH_WATER + 3 * ASGI_FILE_CHUNK
FILE_SIZE = 64 * 1024 * 1024
READ_SECONDS = 1.0


class Meter:
    """Body bytes that crossed the ASGI boundary of the one request under test."""

    def __init__(self) -> None:
        self.sent = 0
        self.pulled = 0
        self.largest_message = 0
        self.done = False


def metered(app: web.Application, meter: Meter) -> Any:
    """``app`` as an ASGI callable whose ``send`` and ``receive`` count body bytes."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def counted_send(message: Any) -> None:
            if message["type"] == "http.response.body":
                meter.sent += len(message.get("body", b""))  # counted once handed over
            await send(message)

        async def counted_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                size = len(message.get("body", b""))
                meter.pulled += size
                meter.largest_message = max(meter.largest_message, size)
            return message

        try:
            await app(scope, counted_receive, counted_send)
        finally:
            meter.done = True

    return asgi


def tcp_queues(server_port: int, client_port: int) -> int:
    """Bytes the kernel holds for the loopback connection between the ports: the server
    socket's send queue plus the client socket's receive queue (from /proc/net/tcp)."""
    ends = {(f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"): 0,
            (f"0100007F:{client_port:04X}", f"0100007F:{server_port:04X}"): 1}  # fmt: skip
    queued = [-1, -1]
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            end = ends.get((fields[1], fields[2]))
            if end is not None:
                tx, rx = fields[4].split(":")
                queued[end] = int(tx if end == 0 else rx, 16)
    assert min(queued) >= 0, f"no loopback connection {server_port} <-> {client_port}"
    return sum(queued)


@pytest.mark.parametrize("kind", KINDS)
def test_slow_download_holds_a_few_chunks(kind: str, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as file:
        file.truncate(FILE_SIZE)  # sparse: nothing to write, every byte reads as zero

    async def download(request: web.Request) -> web.FileResponse:
        return web.FileResponse(big)

    app = web.Application()
    app.router.add_get("/big", download)
    meter = Meter()
    with serve(metered(app, meter), kind) as server, socket.socket() as client:
        # A small receive buffer before connect: the window the server sees stays small.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(("127.0.0.1", server.port))
        client.sendall(b"GET /big HTTP/1.1\r\nHost: test\r\n\r\n")
        received, head = b"", -1
        while head < 0:
            received += client.recv(4096)
            head = received.find(b"\r\n\r\n")
        assert received.startswith(b"HTTP/1.1 200"), received[:100]
        body_read = len(received) - head - 4
        client_port = client.getsockname()[1]
        worst = samples = 0
        deadline = time.monotonic() + READ_SECONDS
        while time.monotonic() < deadline:
            body_read += len(client.recv(1024))
            time.sleep(0.002)  # the slow reader under test, not a synchronisation
            sent = meter.sent
            in_kernel = tcp_queues(server.port, client_port)
            if meter.sent != sent:
                continue  # the server took a message meanwhile: the figures disagree
            samples += 1
            # Handed over, neither read by the client nor queued in either kernel socket:
            # held by the application and the server's transport.
            worst = max(worst, sent - body_read - in_kernel)
        sent = meter.sent
        client.close()
        # The client left: the handler must learn it and stop, not read the file to its
        # end for nobody (a cached file is read without a thread, so nothing else yields).
        wait_until = time.monotonic() + 5
        while not meter.done and time.monotonic() < wait_until:
            time.sleep(0.01)
        assert meter.done and meter.sent < FILE_SIZE // 2, f"{meter.sent} bytes sent in all"
        print(f"\n{kind}: handed over {sent}, read {body_read}, in the kernel {in_kernel}, "
              f"worst held in the process {worst} ({samples} samples)")  # fmt: skip
    # The download really was throttled by the client: most of the file never left.
    assert body_read < sent < FILE_SIZE // 2
    assert samples > READ_SECONDS / 0.1
    assert worst <= APP_SIDE_BOUND, f"{worst} bytes held in the server process"


@pytest.mark.parametrize("kind", KINDS)
def test_slow_handler_pulls_one_message_at_a_time(kind: str) -> None:
    size = 8 * 1024 * 1024
    meter = Meter()
    worst = 0
    consumed = 0

    async def upload(request: web.Request) -> web.Response:
        nonlocal worst, consumed
        while chunk := await request.content.read(4096):
            consumed += len(chunk)
            worst = max(worst, meter.pulled - consumed)
            if consumed % (64 * 1024) == 0:
                await asyncio.sleep(0.001)  # a slow handler: the client gets ahead of it
        return web.json_response({"consumed": consumed})

    app = web.Application()
    app.router.add_post("/upload", upload)
    with serve(metered(app, meter), kind) as server:
        response = httpx.post(server.url + "/upload", content=b"x" * size, timeout=30)
    assert response.json() == {"consumed": size}
    print(f"\n{kind}: largest message {meter.largest_message}, worst unread {worst}")
    # The body reader pulls a message only once it holds nothing: it never holds more
    # than the one message it pulled last, whatever the client has sent.
    assert worst <= meter.largest_message
    # And the servers' own flow control keeps that message small.
    assert meter.largest_message <= 512 * 1024
