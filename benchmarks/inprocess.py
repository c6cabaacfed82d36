"""One contender's server code driven in-process: no sockets, no event-loop I/O.

    .venv/bin/python -m benchmarks.inprocess asgiweb-native plaintext 2000

Each connection is a server protocol object (asgiweb's or aiohttp's native one, uvicorn's
``HttpToolsProtocol``, or the stream protocol of ``asyncio.start_server`` whose callback
runs hypercorn's ``TCPServer``, the last two in front of an ASGI app) given a fake
transport; a round
hands every connection one request (or one WebSocket frame) as a single read and waits
until each has written its whole answer. What runs is everything the server does for a
request above the socket: parsing, the framework, the app, serializing, the event loop's
callbacks. What does not run is the kernel and the loop's polling, which cost the same
whichever framework is served, and which make wall-clock ratios on a shared machine swing
by a fifth between runs.

:mod:`benchmarks.instructions` runs this under valgrind twice, with two counts, and takes
the difference: the instructions one request costs, the same on every run.

Every answer is checked: the first and the last of each connection are parsed in full
(status, content type, body), and every other must be exactly as long as the first, so a
contender that fails, or answers with an error page, is reported rather than measured.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

from .contenders import ENDPOINTS, Endpoint
from .ws_load import TEXT, client_frame, handshake_request, server_frame

__all__ = ["ENDPOINT_NAMES", "FAMILIES", "Connection", "main", "run"]

#: What can be driven in-process. The file endpoint is left out: its cost is sendfile's.
FAMILIES = (
    "asgiweb-native",
    "aiohttp-native",
    "asgiweb-uvicorn",
    "starlette-uvicorn",
    "floor-uvicorn",
    "asgiweb-hypercorn",
    "starlette-hypercorn",
    "floor-hypercorn",
    "thinws-uvicorn",
)
ENDPOINT_NAMES = ("plaintext", "json", "params", "echo", "ws")
CONNECTIONS = 16
_ASGI_APPS = {
    "asgiweb-uvicorn": "benchmarks.apps.asgiweb_app",
    "starlette-uvicorn": "benchmarks.apps.starlette_app",
    "floor-uvicorn": "benchmarks.apps.floor_app",
    "asgiweb-hypercorn": "benchmarks.apps.asgiweb_app",
    "starlette-hypercorn": "benchmarks.apps.starlette_app",
    "floor-hypercorn": "benchmarks.apps.floor_app",
    # The least an aiohttp-shaped WebSocket API can cost (benchmarks/apps/thin_ws_app.py).
    "thinws-uvicorn": "benchmarks.apps.thin_ws_app",
}
_MASK = b"\x1a\x2b\x3c\x4d"
# Seconds a round may take (under valgrind, ~50 times slower) before the run fails.
_STALL_S = 120.0


class _Socket:
    """What hypercorn reads of a connection's socket: its family and both addresses (it
    asks the socket, not the transport)."""

    family = socket.AF_INET

    def getpeername(self) -> tuple[str, int]:
        return ("127.0.0.1", 50000)

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", 8080)


_SOCKET = _Socket()


class Connection(asyncio.Transport):
    """A fake transport: counts what the server writes and says when an answer is whole."""

    def __init__(self, protocol: Any, on_answer: Callable[[], None], sock: Any = None) -> None:
        super().__init__()
        self.socket = sock  # hypercorn's only: the others would set options on it
        self.protocol = protocol
        self.buffered = isinstance(protocol, asyncio.BufferedProtocol)
        self.on_answer = on_answer
        self.answer_size = 0  # learnt from the first answer, then every answer must match
        self.pending = 0
        self.keep: bytearray | None = bytearray()  # the whole answer, while checked
        self.closed = False
        self.lost = False  # connection_lost() called

    # -- what the server calls -----------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.keep is not None:
            self.keep += data
            return
        self.pending -= len(data)
        if self.pending <= 0:
            if self.pending < 0:
                raise AssertionError(f"answer {-self.pending} bytes longer than the first")
            self.on_answer()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {
            "peername": ("127.0.0.1", 50000),
            "sockname": ("127.0.0.1", 8080),
            "socket": self.socket,
        }.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        # As asyncio's transports: the protocol hears of it on the next loop turn (a
        # server waiting for its own close, as hypercorn's does, would wait for ever).
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self.hang_up)

    abort = close

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def set_protocol(self, protocol: Any) -> None:  # uvicorn's WebSocket upgrade
        self.protocol = protocol
        self.buffered = isinstance(protocol, asyncio.BufferedProtocol)

    def get_protocol(self) -> Any:
        return self.protocol

    # -- what the driver calls -----------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """``data`` as one read, the way the event loop would hand it over.

        As little work of its own as asyncio's transport does either way (get_buffer,
        recv_into, buffer_updated; or recv, data_received), so neither kind of protocol
        pays more here than it would on a socket.
        """
        protocol = self.protocol
        if not self.buffered:
            protocol.data_received(data)
            return
        size = len(data)
        buffer = protocol.get_buffer(size)
        if len(buffer) >= size:
            buffer[:size] = data
            protocol.buffer_updated(size)
            return
        view = memoryview(data)  # more than one read's worth: several reads
        while view:
            buffer = protocol.get_buffer(len(view))
            size = min(len(buffer), len(view))
            buffer[:size] = view[:size]
            protocol.buffer_updated(size)
            view = view[size:]

    def expect(self) -> None:
        self.pending = self.answer_size

    def hang_up(self) -> None:
        """The connection is gone: the protocol's ``connection_lost``, once."""
        if not self.lost:
            self.lost = True
            self.protocol.connection_lost(None)


def _request(endpoint: Endpoint) -> bytes:
    body = endpoint.request_body()
    head = f"{endpoint.method} {endpoint.path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
    if endpoint.method == "POST":
        head += f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode("ascii") + body


def _check_http(endpoint: Endpoint, answer: bytes) -> None:
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"no whole head in {answer[:200]!r}")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if fields.get("content-length") != str(len(body)):
        raise AssertionError(f"Content-Length {fields.get('content-length')}, body {len(body)}")
    problem = endpoint.check(status, fields.get("content-type", ""), body)
    if problem:
        raise AssertionError(problem)


def _check_ws(endpoint: Endpoint, answer: bytes) -> None:
    if answer != server_frame(TEXT, endpoint.body):
        raise AssertionError(f"echo {answer[:80]!r}")


async def _native(family: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
    web = importlib.import_module("aiohttp.web" if family == "aiohttp-native" else "asgiweb.web")
    from .apps.aiohttp_style import build_app

    runner = web.AppRunner(build_app(web), access_log=None)
    await runner.setup()
    return runner.server, runner.cleanup


async def _uvicorn(family: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
    from uvicorn.config import Config
    from uvicorn.lifespan.on import LifespanOn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    app = importlib.import_module(_ASGI_APPS[family]).app
    # As the benchmark runs it: httptools, uvicorn's default WebSocket implementation.
    config = Config(app, http="httptools", access_log=False, log_level="error")
    config.load()
    lifespan = LifespanOn(config)
    await lifespan.startup()
    state = ServerState()

    def factory() -> Any:
        return HttpToolsProtocol(config=config, server_state=state, app_state=lifespan.state)

    async def cleanup() -> None:
        await lifespan.shutdown()

    return factory, cleanup


async def _hypercorn(family: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
    from hypercorn.asyncio.lifespan import Lifespan
    from hypercorn.asyncio.tcp_server import TCPServer
    from hypercorn.asyncio.worker_context import WorkerContext
    from hypercorn.config import Config
    from hypercorn.utils import wrap_app

    # As hypercorn's worker_serve sets it up: a lifespan, then asyncio.start_server's
    # protocol per connection, whose callback serves it with a TCPServer.
    config = Config()
    config.loglevel = "WARNING"
    app = wrap_app(importlib.import_module(_ASGI_APPS[family]).app, config.wsgi_max_body_size, None)
    loop = asyncio.get_running_loop()
    state: dict[str, Any] = {}
    lifespan = Lifespan(app, config, loop, state)
    lifespan_task = loop.create_task(lifespan.handle_lifespan())
    await lifespan.wait_for_startup()
    context = WorkerContext(None)
    serving: list[asyncio.Future[None]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = loop.create_future()
        serving.append(served)
        await TCPServer(app, loop, config, context, state, reader, writer)
        served.set_result(None)

    def factory() -> Any:
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), serve, loop=loop)

    async def cleanup() -> None:
        # Ends the idle timers too, which would hold each connection's TCPServer for its
        # keep-alive timeout after the driver closed it.
        await context.terminated.set()
        await asyncio.gather(*serving)
        await lifespan.wait_for_shutdown()
        await lifespan_task

    return factory, cleanup


async def run(family: str, endpoint_name: str, count: int) -> int:
    """Serve ``count`` requests (rounds of :data:`CONNECTIONS`) after a warm-up; checked."""
    endpoint = next(e for e in ENDPOINTS if e.name == endpoint_name)
    if family.endswith("-hypercorn"):
        make = _hypercorn
    else:
        make = _uvicorn if family in _ASGI_APPS else _native
    factory, cleanup = await make(family)
    loop = asyncio.get_running_loop()
    waiting = 0
    done: asyncio.Future[None] = loop.create_future()

    def on_answer() -> None:
        nonlocal waiting
        waiting -= 1
        if waiting == 0:
            done.set_result(None)

    connections = []
    for _ in range(CONNECTIONS):
        protocol = factory()
        connection = Connection(protocol, on_answer, _SOCKET if make is _hypercorn else None)
        protocol.connection_made(connection)
        connections.append(connection)

    async def settle() -> None:
        # Keeping every byte: the answer is whole once the server has nothing left to run.
        for _ in range(50):
            await asyncio.sleep(0)

    async def serve_all() -> int:
        if endpoint.websocket:
            key = "dGhlIHNhbXBsZSBub25jZQ=="
            for connection in connections:
                connection.feed(handshake_request("127.0.0.1", 8080, endpoint.path, key))
            await settle()
            for connection in connections:
                answer = bytes(connection.keep or b"")
                if not answer.startswith(b"HTTP/1.1 101 "):
                    raise AssertionError(f"handshake answered {answer[:200]!r}")
                connection.keep = bytearray()
            message = client_frame(TEXT, endpoint.body, _MASK)
            check = _check_ws
        else:
            message = _request(endpoint)
            check = _check_http

        async def checked_round() -> None:
            for connection in connections:
                connection.keep = bytearray()
                connection.feed(message)
            await settle()
            for connection in connections:
                answer = bytes(connection.keep or b"")
                check(endpoint, answer)
                connection.answer_size = len(answer)
                connection.keep = None

        async def measured_round() -> None:
            nonlocal waiting, done
            waiting = CONNECTIONS
            done = loop.create_future()
            for connection in connections:
                connection.expect()
                connection.feed(message)
            await done

        completed = 0

        def watchdog(seen: int) -> None:
            # A server that swallowed an error (an answer of the wrong length raises inside
            # its write) may never finish a round: fail rather than hang under valgrind.
            nonlocal guard
            if completed == seen and not done.done():
                done.set_exception(TimeoutError(f"no answer in {_STALL_S} s: see the log above"))
            else:
                guard = loop.call_later(_STALL_S, watchdog, completed)

        guard = loop.call_later(_STALL_S, watchdog, -1)
        await checked_round()
        for _ in range(200 // CONNECTIONS):  # warm caches, interned names, free lists
            await measured_round()
        rounds = count // CONNECTIONS
        for _ in range(rounds):
            await measured_round()
            completed += 1
        guard.cancel()
        await checked_round()
        return rounds * CONNECTIONS

    try:
        served = await serve_all()
    finally:
        # Also after a failure: a server whose tasks outlive the run (hypercorn's) would
        # keep asyncio.run() waiting for them.
        for connection in connections:
            connection.hang_up()
        await settle()
    await cleanup()
    return served


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument("endpoint", choices=ENDPOINT_NAMES)
    parser.add_argument("count", type=int, help="requests to serve after the warm-up")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    served = asyncio.run(run(args.family, args.endpoint, args.count))
    print(json.dumps({"served": served}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
