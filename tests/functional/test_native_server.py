"""The native server's own behaviour: HTTP/1.1 details, limits, sites, shutdown, logs."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
import time
from typing import Any

import h11
import httpx
import pytest
from servers import serve

from asgiweb import web


def echo_app() -> web.Application:
    app = web.Application()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"hello {request.path}")

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    async def ignore_body(request: web.Request) -> web.Response:
        return web.Response(text="ignored")

    async def info(request: web.Request) -> web.Response:
        return web.json_response(
            {"scheme": request.scheme, "secure": request.secure, "remote": request.remote}
        )

    app.router.add_get("/info", info)
    app.router.add_post("/echo", echo)
    app.router.add_post("/ignore", ignore_body)
    app.router.add_get("/{tail:.*}", hello)
    return app


def read_responses(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Read ``count`` responses with h11, an HTTP client we did not write."""
    conn = h11.Connection(h11.CLIENT)
    results: list[tuple[int, dict[str, str], bytes]] = []
    status, headers, body = 0, {}, b""
    while len(results) < count:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = sock.recv(65536)
            conn.receive_data(data)
            if not data and conn.their_state is not h11.SEND_BODY:
                break
            continue
        if isinstance(event, h11.Response):
            status = event.status_code
            headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            body = b""
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            results.append((status, headers, body))
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                break
            # h11 wants a request for each response; pretend we sent the next one.
            conn = h11.Connection(h11.CLIENT)
            conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
            conn.send(h11.EndOfMessage())
    return results


def raw_connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def first_response_conn() -> h11.Connection:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    return conn


def test_pipelined_requests_are_answered_in_order() -> None:
    with serve(echo_app(), "native") as server, raw_connect(server.port) as sock:
        sock.sendall(
            b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /three HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        got = read_responses_pipelined(sock, 3)
        assert [body for _, _, body in got] == [b"hello /one", b"abc", b"hello /three"]


def read_responses_pipelined(sock: socket.socket, count: int) -> list[tuple[int, dict, bytes]]:
    buffer = b""
    results = []
    while len(results) < count:
        conn = first_response_conn()
        if buffer:
            conn.receive_data(buffer)
            buffer = b""
        status, headers, body = 0, {}, b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = sock.recv(65536)
                assert data, "connection closed early"
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                buffer = conn.trailing_data[0]
                results.append((status, headers, body))
                break
    return results


def test_http10_closes_unless_keep_alive_asked() -> None:
    with serve(echo_app(), "native") as server:
        with raw_connect(server.port) as sock:
            sock.sendall(b"GET /a HTTP/1.0\r\n\r\n")
            data = recv_all(sock)
            assert data.startswith(b"HTTP/1.0 200 OK") and data.endswith(b"hello /a")
        with raw_connect(server.port) as sock:
            sock.sendall(b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            first = recv_until(sock, b"hello /b")
            assert b"Connection: keep-alive" in first
            sock.sendall(b"GET /c HTTP/1.0\r\n\r\n")
            assert recv_all(sock).endswith(b"hello /c")


def recv_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def recv_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before {marker!r}: {data!r}"
        data += chunk
    return data


def test_keepalive_timeout_closes_idle_connections() -> None:
    with serve(echo_app(), "native", keepalive_timeout=0.3) as server:
        with raw_connect(server.port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            recv_until(sock, b"hello /")
            started = time.monotonic()
            assert sock.recv(10) == b""
            assert time.monotonic() - started < 3


def test_a_head_trickled_forever_is_cut_off() -> None:
    with serve(echo_app(), "native", keepalive_timeout=0.5) as server:
        with raw_connect(server.port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n")
            started = time.monotonic()
            closed = False
            for _ in range(40):
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    closed = True
                    break
                time.sleep(0.1)
                sock.setblocking(False)
                try:
                    if sock.recv(10) == b"":
                        closed = True
                        break
                except BlockingIOError:
                    pass
                except OSError:
                    # A reset: a line was on its way when the server closed. Cut off too.
                    closed = True
                    break
                finally:
                    sock.setblocking(True)
            elapsed = time.monotonic() - started
            assert closed, "the connection was still open after 40 lines"
            assert elapsed < 3, f"cut off after {elapsed:.1f} s, not about 0.5 s"


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
         b"Content-Length: 2\r\n\r\nab", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\nHost: a\n\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: \xd9\xa3\r\n\r\nabc", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 400),
        # RFC 9112 6.3: chunked is not the final coding, the length is unknown: 400.
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        # RFC 9112 6.1: a coding we do not implement before chunked: 501.
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ],
)  # fmt: skip
def test_bad_requests_get_an_answer_and_a_close(request_bytes: bytes, status: int) -> None:
    with serve(echo_app(), "native") as server:
        with raw_connect(server.port) as sock:
            sock.sendall(request_bytes)
            data = recv_all(sock)
        assert data.startswith(f"HTTP/1.1 {status} ".encode()), data[:80]
        assert b"\r\nConnection: close\r\n" in data
        # Everyone else is still served.
        assert httpx.get(server.url + "/ok").text == "hello /ok"


def test_expect_100_continue() -> None:
    with serve(echo_app(), "native") as server, raw_connect(server.port) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = recv_until(sock, b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        assert recv_until(sock, b"hello").startswith(b"HTTP/1.1 200 OK")


def test_unknown_expectation_is_417() -> None:
    with serve(echo_app(), "native") as server, raw_connect(server.port) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: magic\r\n\r\nhi"
        )
        assert recv_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 417 ")


def test_unread_body_is_drained_and_the_connection_reused() -> None:
    body = b"z" * 300_000
    with serve(echo_app(), "native") as server, raw_connect(server.port) as sock:
        sock.sendall(b"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        sock.sendall(body)
        recv_until(sock, b"ignored")
        sock.sendall(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        assert recv_until(sock, b"hello /again")


@pytest.mark.parametrize("cancel", [False, True])
def test_handler_cancellation(cancel: bool) -> None:
    outcome: list[str] = []
    app = web.Application()

    async def slow(request: web.Request) -> web.Response:
        try:
            await asyncio.sleep(0.4)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        outcome.append("finished")
        return web.Response(text="late")

    app.router.add_get("/slow", slow)
    with serve(app, "native", handler_cancellation=cancel) as server:
        with raw_connect(server.port) as sock:
            sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.1)
        deadline = time.monotonic() + 3
        while not outcome and time.monotonic() < deadline:
            time.sleep(0.02)
    assert outcome == (["cancelled"] if cancel else ["finished"])


def test_tls_site(tmp_path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def main() -> dict:
        runner = web.AppRunner(echo_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
        await site.start()
        port = runner.addresses[0][1]
        assert site.name == f"https://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca_file)) as c:
                r = await c.get(f"https://127.0.0.1:{port}/info")
                return r.json()
        finally:
            await runner.cleanup()

    assert asyncio.run(main()) == {"scheme": "https", "secure": True, "remote": "127.0.0.1"}


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_tls_file_response(tmp_path, loop_name: str) -> None:
    """A file over TLS passes through the TLS transport, never straight to the socket."""
    trustme = pytest.importorskip("trustme")
    loop_factory = asyncio.new_event_loop
    if loop_name == "uvloop":
        loop_factory = pytest.importorskip("uvloop").new_event_loop
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    blob = bytes(range(256)) * 4000  # 1 MB: fits the socket buffer at once, in clear
    path = tmp_path / "blob.bin"
    path.write_bytes(blob)

    async def send_file(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path)

    async def main() -> list[bytes]:
        app = web.Application()
        app.router.add_get("/f", send_file)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx).start()
        port = runner.addresses[0][1]
        verify = ssl.create_default_context(cafile=ca_file)
        try:
            async with httpx.AsyncClient(verify=verify) as client:
                return [(await client.get(f"https://127.0.0.1:{port}/f")).content for _ in "ab"]
        finally:
            await runner.cleanup()

    loop = loop_factory()
    try:
        assert loop.run_until_complete(main()) == [blob, blob]
    finally:
        loop.close()


def test_unix_site(tmp_path) -> None:
    path = str(tmp_path / "s.sock")

    async def main() -> str:
        runner = web.AppRunner(echo_app())
        await runner.setup()
        site = web.UnixSite(runner, path)
        await site.start()
        assert site.name == f"http://unix:{path}:"
        try:
            transport = httpx.AsyncHTTPTransport(uds=path)
            async with httpx.AsyncClient(transport=transport) as client:
                return (await client.get("http://local/unix")).text
        finally:
            await runner.cleanup()

    assert asyncio.run(main()) == "hello /unix"


def test_several_tcp_sites_on_one_runner() -> None:
    async def main() -> list[str]:
        runner = web.AppRunner(echo_app())
        await runner.setup()
        for host in ("127.0.0.1", "127.0.0.2"):
            await web.TCPSite(runner, host, 0).start()
        try:
            texts = []
            async with httpx.AsyncClient() as client:
                for host, port in runner.addresses:
                    texts.append((await client.get(f"http://{host}:{port}/m")).text)
            return texts
        finally:
            await runner.cleanup()

    assert asyncio.run(main()) == ["hello /m", "hello /m"]


def test_access_log_format(caplog) -> None:
    caplog.set_level(logging.INFO, logger="asgiweb.access")
    fmt = '%a "%r" %s %b %{X-Req}i %{Content-Type}o %D %Tf %% %P'
    with serve(echo_app(), "native", access_log_format=fmt) as server:
        httpx.get(server.url + "/logged?q=1", headers={"X-Req": "abc"})
    lines = [r.getMessage() for r in caplog.records if r.name == "asgiweb.access"]
    assert len(lines) == 1
    assert re.fullmatch(
        # %b: the 13 body bytes and the head, as aiohttp counts (exactly: test_aiohttp_examples).
        r'127\.0\.0\.1 "GET /logged\?q=1 HTTP/1\.1" 200 1\d\d abc text/plain; charset=utf-8 '
        r"\d+ \d+\.\d{6} % <\d+>",
        lines[0],
    ), lines[0]


def test_custom_access_logger() -> None:
    seen: list[tuple[str, int]] = []

    class Recorder(web.AbstractAccessLogger):
        def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
            seen.append((request.path, response.status))

    with serve(echo_app(), "native", access_log_class=Recorder) as server:
        httpx.get(server.url + "/x")
        httpx.get(server.url + "/y")
    assert seen == [("/x", 200), ("/y", 200)]


def test_access_log_none_logs_nothing(caplog) -> None:
    caplog.set_level(logging.INFO, logger="asgiweb.access")
    with serve(echo_app(), "native", access_log=None) as server:
        httpx.get(server.url + "/quiet")
    assert not [r for r in caplog.records if r.name == "asgiweb.access"]


@pytest.mark.parametrize("kind", ["native", "uvicorn", "hypercorn"])
def test_low_level_server_everywhere(kind: str) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        assert not isinstance(request, web.Request)
        return web.Response(text=f"{request.method} {request.path} {await request.text()}")

    with serve(web.Server(handler), kind) as server:
        r = httpx.post(server.url + "/low", content=b"level")
        assert r.text == "POST /low level"


def test_server_counts_requests_and_connections() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="ok")

    async def main() -> tuple[int, int]:
        low = web.Server(handler)
        runner = web.ServerRunner(low)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        async with httpx.AsyncClient() as client:
            for _ in range(3):
                await client.get(f"http://127.0.0.1:{port}/")
            open_connections = len(low.connections)
        await runner.cleanup()
        return low.requests_count, open_connections

    assert asyncio.run(main()) == (3, 1)


def test_named_pipe_site_fails_clearly_off_windows() -> None:
    async def main() -> None:
        runner = web.AppRunner(echo_app())
        await runner.setup()
        try:
            with pytest.raises(RuntimeError, match="Named Pipes"):
                web.NamedPipeSite(runner, r"\\.\pipe\x")
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_native_server_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> list[str]:
        runner = web.AppRunner(echo_app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        try:
            async with httpx.AsyncClient() as client:
                got = [(await client.get(f"http://127.0.0.1:{port}/uv")).text]
                r = await client.post(f"http://127.0.0.1:{port}/echo", content=b"x" * 100_000)
                got.append(str(len(r.content)))
            return got
        finally:
            await runner.cleanup()

    loop = uvloop.new_event_loop()
    try:
        assert loop.run_until_complete(main()) == ["hello /uv", "100000"]
    finally:
        loop.close()


def test_file_response_on_uvloop(tmp_path) -> None:
    uvloop = pytest.importorskip("uvloop")
    blob = bytes(range(256)) * 1200
    path = tmp_path / "blob.bin"
    path.write_bytes(blob)

    async def send_file(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path)

    async def main() -> bytes:
        app = web.Application()
        app.router.add_get("/f", send_file)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"http://127.0.0.1:{port}/f")).content
        finally:
            await runner.cleanup()

    loop = uvloop.new_event_loop()
    try:
        assert loop.run_until_complete(main()) == blob
    finally:
        loop.close()


class _CountedTask(asyncio.Task):  # type: ignore[type-arg]
    pass


@pytest.mark.parametrize("factory", [False, True])
def test_requests_run_in_the_loops_tasks(factory: bool) -> None:
    """Each request runs in its own task: one made by the loop's task factory when the
    application set one, else a plain asyncio.Task; request.task is that task."""
    app = web.Application()

    async def which(request: web.Request) -> web.Response:
        task = asyncio.current_task()
        assert task is not None and request.task is task
        return web.Response(text=type(task).__name__)

    app.router.add_get("/which", which)

    def counted(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> _CountedTask:
        return _CountedTask(coro, loop=loop, **kwargs)

    async def main() -> list[str]:
        if factory:
            asyncio.get_running_loop().set_task_factory(counted)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        try:
            async with httpx.AsyncClient() as client:  # one keep-alive connection
                return [(await client.get(f"http://127.0.0.1:{port}/which")).text for _ in "ab"]
        finally:
            await runner.cleanup()

    assert asyncio.run(main()) == (["_CountedTask"] * 2 if factory else ["Task"] * 2)


class _OffsetClockLoop(asyncio.SelectorEventLoop):
    """A loop whose clock is not time.monotonic() (as test loops with fake time are)."""

    def time(self) -> float:
        return super().time() + 10_000.0


def test_keepalive_timeout_runs_on_the_loops_own_clock() -> None:
    """An idle connection is closed after keepalive_timeout by the loop's clock, whatever
    that clock reads: not at once (deadline taken from another clock), not never."""

    async def main() -> tuple[bytes, bytes, float]:
        runner = web.AppRunner(echo_app(), keepalive_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            request = b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n"
            writer.write(request)
            first = await reader.readuntil(b"hello /again")
            await asyncio.sleep(0.4)  # idle, well within the timeout: still open
            writer.write(request)
            second = await reader.readuntil(b"hello /again")
            idle_from = time.monotonic()
            rest = await asyncio.wait_for(reader.read(), 5)  # the server closes it
            writer.close()
            return first + second, rest, time.monotonic() - idle_from
        finally:
            await runner.cleanup()

    with asyncio.Runner(loop_factory=_OffsetClockLoop) as runner:
        answers, rest, idle = runner.run(main())
    assert answers.count(b"HTTP/1.1 200 OK") == 2
    assert rest == b""
    assert 0.7 < idle < 4
