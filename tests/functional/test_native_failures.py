"""The native server when a handler or a request goes wrong: dropped connections, upgrade
requests with a body, a broken body under a reading handler; TCPSite.port."""

from __future__ import annotations

import asyncio
import socket
import threading
from unittest import mock

import httpx
import pytest
from servers import serve

from asgiweb import web
from asgiweb.handling import RequestPayloadError


def exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data``, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


class Unexpected(BaseException):
    """Not an Exception: nothing on the way may swallow it."""


async def raises_cancelled(request: web.BaseRequest) -> web.Response:
    raise asyncio.CancelledError()


async def raises_base_exception(request: web.BaseRequest) -> web.Response:
    raise Unexpected()


async def cancelled_in_write_eof(request: web.BaseRequest) -> web.Response:
    resp = web.Response(text="never sent")
    resp.write_eof = mock.Mock(side_effect=asyncio.CancelledError("error"))  # type: ignore[method-assign]
    return resp


@pytest.mark.parametrize("handler", [raises_cancelled, cancelled_in_write_eof])
def test_cancellation_drops_the_connection_and_says_so_in_debug(handler, caplog) -> None:
    caplog.set_level("DEBUG", logger="asgiweb.server")
    with serve(web.Server(handler, debug=True), "native") as server:
        assert exchange(server.port, GET) == b""  # a clean close, no answer
    messages = [rec.getMessage() for rec in caplog.records if rec.name == "asgiweb.server"]
    assert "Ignored premature client disconnection" in messages


def test_a_base_exception_drops_the_connection_instead_of_hanging() -> None:
    with serve(web.Server(raises_base_exception), "native") as server:
        assert exchange(server.port, GET) == b""
        assert exchange(server.port, GET) == b""  # and the server goes on accepting


def test_an_upgrade_request_that_is_not_upgraded_still_has_its_body() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(body=await request.read())

    head = (
        b"POST / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, close\r\n"
        b"Upgrade: unsupported_proto\r\nContent-Length: 4\r\n\r\n"
    )
    with serve(web.Server(handler), "native") as server:
        answer = exchange(server.port, head + b"Test")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert answer.endswith(b"\r\n\r\nTest")
        # The body trickled in after the head.
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(head + b"Te")
            sock.sendall(b"st")
            assert sock.recv(65536).endswith(b"\r\n\r\nTest")


def test_an_upgrade_request_with_a_chunked_body_is_refused() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(body=await request.read())

    request = (
        b"POST / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n4\r\nTest\r\n0\r\n\r\n"
    )
    with serve(web.Server(handler), "native") as server:
        assert exchange(server.port, request).startswith(b"HTTP/1.1 501 ")


def test_a_body_broken_while_the_handler_reads_it_raises_instead_of_hanging() -> None:
    seen: list[BaseException] = []
    started = threading.Event()

    async def handler(request: web.BaseRequest) -> web.Response:
        started.set()
        try:
            await request.read()
        except RequestPayloadError as exc:
            seen.append(exc)
            raise
        return web.Response(text="unreachable")

    request = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nTest\r\n"
    with serve(web.Server(handler), "native") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(request)
            assert started.wait(5)  # the handler is reading when the body breaks
            sock.sendall(b"zz-not-a-chunk-size\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert len(seen) == 1


def test_tcp_site_port_is_the_bound_one_once_started() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="ok")

    async def main() -> None:
        runner = web.ServerRunner(web.Server(handler))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        assert site.port == 0
        await site.start()
        port = site.port
        assert port == runner.addresses[0][1] != 0
        assert site.name == f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).text == "ok"
        await runner.cleanup()
        assert site.port == port  # still known after the site stopped

    asyncio.run(main())
