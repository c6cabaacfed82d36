"""HTTP/2 under hypercorn: TLS with ALPN "h2", cleartext h2c (prior knowledge and the
HTTP/1.1 Upgrade), and what the application hands an HTTP/2 server."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest
import trustme

from asgiweb import web
from tests.servers import RunningServer, serve

FILE_BYTES = bytes(range(256)) * 1200  # 300 KiB: several DATA frames and flow-control windows
RELEASE = web.AppKey("release", asyncio.Event)


def make_app(root: Path) -> web.Application:
    async def text(request: web.Request) -> web.Response:
        version = request.version
        return web.Response(text=f"{version.major}.{version.minor} {request.scheme}")

    async def as_json(request: web.Request) -> web.Response:
        # Under HTTP/2 no header announces a body: a GET must still have none.
        return web.json_response(
            {
                "version": list(request.version),
                "scheme": request.scheme,
                "body": request.body_exists or request.can_read_body,
            }
        )

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"first;")
        # Held until the client, having read "first;", asks /release on the same
        # connection: only a response that goes out as it is written gets there.
        await asyncio.wait_for(request.app[RELEASE].wait(), 5)
        request.app[RELEASE].clear()
        for part in (b"second;", b"third;", b"last"):
            await response.write(part)
        await response.write_eof()
        return response

    async def release(request: web.Request) -> web.Response:
        request.app[RELEASE].set()
        return web.Response(text="released")

    async def file(request: web.Request) -> web.FileResponse:
        return web.FileResponse(root / "data.bin")

    async def read_all(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({"length": len(body), "sha": hashlib.sha256(body).hexdigest()})

    async def read_chunks(request: web.Request) -> web.Response:
        digest = hashlib.sha256()
        length = chunks = 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            assert len(chunk) <= 64 * 1024
            digest.update(chunk)
            length += len(chunk)
            chunks += 1
        return web.json_response({"length": length, "sha": digest.hexdigest(), "chunks": chunks})

    app = web.Application()
    app[RELEASE] = asyncio.Event()
    app.router.add_get("/", text)
    app.router.add_get("/json", as_json)
    app.router.add_get("/stream", stream)
    app.router.add_get("/release", release)
    app.router.add_get("/file", file)
    app.router.add_post("/read", read_all)
    app.router.add_post("/chunks", read_chunks)
    return app


class Target:
    """One running server and how to reach it over HTTP/2."""

    def __init__(self, server: RunningServer, tls: ssl.SSLContext | None) -> None:
        self.server = server
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.url = f"{self.scheme}://127.0.0.1:{server.port}"

    def client(self, http2: bool = True) -> httpx.Client:
        # Without TLS, httpx speaks HTTP/2 only with prior knowledge (http1=False).
        return httpx.Client(
            base_url=self.url,
            http1=not http2,
            http2=http2,
            verify=self.tls if self.tls is not None else False,
            timeout=10,
        )


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("http2")
    (path / "data.bin").write_bytes(FILE_BYTES)
    return path


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def servers(root: Path, ca: trustme.CA) -> Iterator[dict[str, Target]]:
    """hypercorn over TLS (ALPN h2, http/1.1) and over cleartext, for the whole module;
    each fails the module at teardown if it logged an error (see ``no_server_errors``)."""
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = root / "cert.pem", root / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    tls_options = {
        "certfile": str(certfile),
        "keyfile": str(keyfile),
        "alpn_protocols": ["h2", "http/1.1"],
    }
    with (
        serve(make_app(root), "hypercorn", **tls_options) as tls_server,
        serve(make_app(root), "hypercorn") as cleartext_server,
    ):
        yield {"tls": Target(tls_server, client_context), "h2c": Target(cleartext_server, None)}


@pytest.fixture(params=["tls", "h2c"])
def target(request: pytest.FixtureRequest, servers: dict[str, Target]) -> Iterator[Target]:
    chosen = servers[request.param]
    yield chosen
    # Per test, so a server-side error names the test that caused it.
    assert not chosen.server.errors, "\n\n".join(chosen.server.errors)


def test_plain_responses_over_http2_see_version_2_and_the_scheme(target: Target) -> None:
    with target.client() as client:
        response = client.get("/")
        assert response.http_version == "HTTP/2"
        assert response.text == f"2.0 {target.scheme}"
        assert response.headers["content-length"] == str(len(response.content))
        response = client.get("/json")
        assert response.http_version == "HTTP/2"
        assert response.json() == {"version": [2, 0], "scheme": target.scheme, "body": False}


def test_tls_without_h2_in_alpn_falls_back_to_http1(servers: dict[str, Target]) -> None:
    with servers["tls"].client(http2=False) as client:
        response = client.get("/")
    assert response.http_version == "HTTP/1.1"
    assert response.text == "1.1 https"


def test_a_streamed_response_goes_out_as_written_without_transfer_encoding(
    target: Target,
) -> None:
    with target.client() as client, client.stream("GET", "/stream") as response:
        assert response.http_version == "HTTP/2"
        assert "transfer-encoding" not in response.headers
        assert "content-length" not in response.headers
        chunks = response.iter_raw()
        received = next(chunks)
        assert received == b"first;"
        # A second stream on the same connection, while the first is still open.
        assert client.get("/release").text == "released"
        received += b"".join(chunks)
    assert received == b"first;second;third;last"


def test_a_file_whole_and_a_range(target: Target) -> None:
    with target.client() as client:
        response = client.get("/file")
        assert response.http_version == "HTTP/2"
        assert response.status_code == 200
        assert response.content == FILE_BYTES
        assert response.headers["content-length"] == str(len(FILE_BYTES))
        assert "etag" in response.headers and "last-modified" in response.headers

        response = client.get("/file", headers={"Range": "bytes=1000-200999"})
        assert response.status_code == 206
        assert response.content == FILE_BYTES[1000:201000]
        assert response.headers["content-range"] == f"bytes 1000-200999/{len(FILE_BYTES)}"


def test_request_bodies_read_whole_and_in_chunks(target: Target) -> None:
    body = bytes(range(251)) * 2400  # ~600 KiB: past the h2 initial windows both ways
    expected = {"length": len(body), "sha": hashlib.sha256(body).hexdigest()}
    with target.client() as client:
        response = client.post("/read", content=body)
        assert response.http_version == "HTTP/2"
        assert response.json() == expected

        def pieces() -> Iterator[bytes]:
            for start in range(0, len(body), 50_000):
                yield body[start : start + 50_000]

        response = client.post("/chunks", content=pieces())
        data = response.json()
        assert {key: data[key] for key in expected} == expected
        assert data["chunks"] >= len(body) // (64 * 1024)


def test_h2c_upgrade_from_http1(servers: dict[str, Target]) -> None:
    """RFC 7540 3.2 (removed by RFC 9113, still served by hypercorn): an HTTP/1.1 request
    with ``Upgrade: h2c`` is answered 101, then over HTTP/2 on stream 1."""
    target = servers["h2c"]
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    settings = connection.initiate_upgrade_connection()
    with socket.create_connection(("127.0.0.1", target.server.port), timeout=5) as sock:
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            b"Upgrade: h2c\r\nHTTP2-Settings: " + settings + b"\r\n\r\n"
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += _recv(sock)
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        sock.sendall(connection.data_to_send())
        status, body = None, b""
        events = connection.receive_data(rest) if rest else []
        while True:
            for event in events:
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == 1:
                    status = dict(event.headers)[b":status"]
                elif isinstance(event, h2.events.DataReceived) and event.stream_id == 1:
                    body += event.data
                    connection.acknowledge_received_data(event.flow_controlled_length, 1)
            if any(isinstance(e, h2.events.StreamEnded) and e.stream_id == 1 for e in events):
                break
            sock.sendall(connection.data_to_send())
            events = connection.receive_data(_recv(sock))
        connection.close_connection()
        sock.sendall(connection.data_to_send())
    assert status == b"200"
    assert body == b"2.0 http"
    assert not target.server.errors, "\n\n".join(target.server.errors)


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise AssertionError("the server closed the connection")
    return data


# -- what the application hands an HTTP/2 server (no server: the ASGI messages) ----------


def _call(
    app: web.Application,
    http_version: str,
    path: str,
    *,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: list[bytes] | None = None,
    log: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Drive ``app`` as an ASGI server would; the messages it sent. ``body``: the request
    body's pieces, one ``http.request`` each (a GET's stream ends with its HEADERS)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": http_version,
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"example.com"), *(headers or [])],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8443),
    }
    sent: list[dict[str, Any]] = []
    pieces = list(body or [b""])
    incoming = [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]

    async def receive() -> dict[str, Any]:
        if incoming:
            if log is not None:
                log.append("receive")
            return incoming.pop(0)
        await asyncio.Event().wait()  # the client stays until the response ends
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if log is not None:
            log.append(message["type"])
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return sent


def _body_app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        if request.path == "/refuse":
            return web.Response(status=413, text="too big")
        exists = request.body_exists
        return web.Response(text=f"{exists} {(await request.read()).decode()}")

    app = web.Application()
    app.router.add_route("*", "/", echo)
    app.router.add_post("/refuse", echo)
    return app


def test_an_http2_body_without_content_length_is_read() -> None:
    """RFC 9113 8.1: DATA frames carry the body; no header need announce it."""
    sent = _call(_body_app(), "2", "/", method="POST", body=[b"one,", b"two,", b"three"])
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"True one,two,three"
    # A GET (the stream ended with the HEADERS frame) has none.
    sent = _call(_body_app(), "2", "/")
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"False "


def test_an_http2_expect_continue_body_is_not_asked_for_before_the_handler() -> None:
    # The first receive() makes the server send 100 Continue: a handler that refuses the
    # body before reading it must be able to answer before that.
    log: list[str] = []
    expect = [(b"expect", b"100-continue")]
    app = _body_app()
    sent = _call(app, "2", "/refuse", method="POST", headers=expect, body=[b"x"], log=log)
    assert sent[0]["status"] == 413
    assert log[0] == "http.response.start"
    sent = _call(app, "2", "/", method="POST", headers=expect, body=[b"data"])
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"True data"


CONNECTION_SPECIFIC = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
}


def _connection_app() -> web.Application:
    async def set_them(request: web.Request) -> web.StreamResponse:
        # No length: StreamResponse frames it as chunked under HTTP/1.1.
        response = web.StreamResponse(
            headers={
                "Connection": "keep-alive",
                "Keep-Alive": "timeout=5",
                "Proxy-Connection": "keep-alive",
                "Upgrade": "websocket",
                "X-Kept": "yes",
            }
        )
        await response.prepare(request)
        await response.write(b"body")
        return response

    async def closing(request: web.Request) -> web.Response:
        response = web.Response(text="bye")
        response.force_close()
        return response

    app = web.Application()
    app.router.add_get("/set", set_them)
    app.router.add_get("/close", closing)
    return app


def test_http2_responses_carry_no_connection_specific_fields() -> None:
    """RFC 9113 8.2.2: such a field makes an HTTP/2 message malformed. (hypercorn's h2
    strips them itself, so only the messages show what asgiweb sends.)"""
    app = _connection_app()
    for path in ("/set", "/close"):
        sent = _call(app, "2", path)
        assert sent[0]["status"] == 200
        names = {name.decode() for name, _ in sent[0]["headers"]}
        assert not names & CONNECTION_SPECIFIC, names
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"bye"
    sent = _call(app, "2", "/set")
    assert (b"x-kept", b"yes") in sent[0]["headers"]
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"body"

    # Under HTTP/1.1 the application's own fields pass (the server frames the body).
    names = {name.decode() for name, _ in _call(app, "1.1", "/set")[0]["headers"]}
    assert {"connection", "keep-alive", "upgrade"} <= names
    assert "transfer-encoding" not in names


def test_enable_chunked_encoding_is_not_an_error_under_http2() -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"data")
        return response

    app = web.Application()
    app.router.add_get("/", chunked)
    sent = _call(app, "2", "/")
    assert sent[0]["status"] == 200
    assert b"transfer-encoding" not in {name for name, _ in sent[0]["headers"]}
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"data"
    # HTTP/1.0 still has no chunks to offer (aiohttp's rule).
    assert _call(app, "1.0", "/")[0]["status"] == 500
