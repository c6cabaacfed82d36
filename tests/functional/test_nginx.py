"""The nginx recipe (docs/nginx.md): examples/nginx/asgiweb.conf in front of
examples/behind_proxy.py on a Unix socket, natively and under ``uvicorn --uds``.

nginx runs unprivileged from a config in tmp_path: TLS on a free loopback port with a
trustme certificate, so ``$scheme`` is really https. The app runs as the docs say to run
it, in a subprocess; what either server logs as an error fails the test.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from servers import free_port, serve
from websockets.sync.client import connect

ROOT = Path(__file__).parents[2]
RECIPE = ROOT / "examples" / "nginx" / "asgiweb.conf"
# Debian installs nginx in /usr/sbin, which is not on an ordinary user's PATH.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")

# The commands docs/nginx.md gives, with the socket path to fill in.
BACKENDS = {
    "native": [sys.executable, "examples/behind_proxy.py", "{socket}"],
    "uvicorn": [
        *(sys.executable, "-m", "uvicorn", "--uds", "{socket}", "--no-proxy-headers"),
        *("--factory", "examples.behind_proxy:make_app"),
    ],
}

# Around the recipe, what a package's nginx.conf would give, kept inside tmp_path.
NGINX_CONF = """\
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/asgiweb.conf;
}}
"""


def _load_example() -> Any:
    spec = importlib.util.spec_from_file_location("behind_proxy", ROOT / "examples/behind_proxy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_app = _load_example().make_app

# Spoofing headers a client sends to nginx, which the recipe must not let through.
SPOOFED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Host": "evil.example",
    "Forwarded": "for=203.0.113.9;proto=http;host=evil.example",
}


@dataclass
class Stack:
    """nginx on ``port`` in front of one backend; their logs, to check for errors."""

    kind: str
    port: int
    ssl_context: ssl.SSLContext
    backend: subprocess.Popen[bytes]
    backend_log: Path
    nginx_log: Path
    # Parts of error lines a test provoked on purpose, and asserted.
    expected: list[str] = field(default_factory=list)
    # How far into each log a test's check has read already.
    checked: tuple[int, int] = (0, 0)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.ssl_context, timeout=10)

    def errors(self, offsets: tuple[int, int] = (0, 0)) -> list[str]:
        """Error lines either server logged after ``offsets`` (bytes into each log)."""
        found = []
        for path, offset, markers in (
            (self.backend_log, offsets[0], ("Traceback", "ERROR", "WARNING")),
            (self.nginx_log, offsets[1], ("[error]", "[crit]", "[alert]", "[emerg]")),
        ):
            with path.open("rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
            found += [line for line in text.splitlines() if any(m in line for m in markers)]
        return [line for line in found if not any(part in line for part in self.expected)]

    def offsets(self) -> tuple[int, int]:
        return self.backend_log.stat().st_size, self.nginx_log.stat().st_size


def _wait(
    connect_once: Callable[[], socket.socket], process: subprocess.Popen[bytes], what: str
) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            connect_once().close()
            return
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before listening")
        time.sleep(0.01)
    raise RuntimeError(f"{what} did not listen within 10 s")


def _unix_connection(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


def _stop(process: subprocess.Popen[bytes], sig: signal.Signals) -> int:
    """Stop gracefully, or kill after 10 s; the exit code (negative when killed)."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextlib.contextmanager
def _backend(kind: str, sock: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [part.format(socket=sock) for part in BACKENDS[kind]]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        _wait(lambda: _unix_connection(sock), process, f"the {kind} backend")
        yield process
    finally:
        # SIGTERM, as systemd stops a service: both servers shut down cleanly on it (uvicorn
        # then re-raises the signal, so its status says what stopped it).
        code = _stop(process, signal.SIGTERM)
    assert code in (0, -signal.SIGTERM), f"{kind} exited with {code}:\n{log.read_text()}"


def _render(fill: dict[str, str]) -> str:
    recipe = RECIPE.read_text()
    for name, value in fill.items():
        recipe = recipe.replace(f"@{name}@", value)
    left = re.findall(r"^[^#\n]*(@[A-Z_]+@)", recipe, re.MULTILINE)
    assert not left, f"placeholders left unfilled: {left}"
    return recipe


@contextlib.contextmanager
def _nginx(directory: Path, fill: dict[str, str]) -> Iterator[int]:
    assert NGINX is not None
    (directory / "nginx.conf").write_text(NGINX_CONF.format(dir=directory))
    for attempt in range(3):  # the free port may be taken before nginx binds it
        port = free_port()
        (directory / "asgiweb.conf").write_text(_render({**fill, "LISTEN": f"127.0.0.1:{port}"}))
        command = [NGINX, "-p", str(directory), "-c", "nginx.conf", "-e", "error.log"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        address = ("127.0.0.1", port)
        try:
            _wait(lambda: socket.create_connection(address), process, "nginx")  # noqa: B023
        except RuntimeError:
            _stop(process, signal.SIGQUIT)
            log = (directory / "error.log").read_text()
            if "Address already in use" in log and attempt < 2:
                continue
            raise RuntimeError(f"nginx did not start:\n{log}") from None
        try:
            yield port
        finally:
            # SIGQUIT: nginx's graceful shutdown (what `nginx -s quit` sends).
            _stop(process, signal.SIGQUIT)
        return


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    """A directory with a certificate for 127.0.0.1, and a client context trusting it."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    directory = tmp_path_factory.mktemp("tls")
    cert.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(directory / "cert.pem"), append=True)
    cert.private_key_pem.write_to_path(str(directory / "key.pem"))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return directory, context


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    certificates: tuple[Path, ssl.SSLContext],
) -> Iterator[Stack]:
    """nginx with the recipe in front of the example app on one backend."""
    if NGINX is None:
        pytest.skip("nginx not found: apt-get install nginx-light (Debian) to run the proxy tests")
    kind = str(request.param)
    directory = tmp_path_factory.mktemp(f"nginx-{kind}")
    sock = directory / "app.sock"
    assert len(str(sock)) < 100, "a Unix socket path must fit in sun_path (108 bytes)"
    tls_dir, context = certificates
    fill = {
        "SERVER_NAME": "127.0.0.1",
        "CERTIFICATE": str(tls_dir / "cert.pem"),
        "CERTIFICATE_KEY": str(tls_dir / "key.pem"),
        "SOCKET": str(sock),
    }
    log = directory / "backend.log"
    with _backend(kind, sock, log) as backend, _nginx(directory, fill) as port:
        stack = Stack(kind, port, context, backend, log, directory / "error.log")
        yield stack
    errors = stack.errors(stack.checked)  # what the servers logged after the last test
    assert not errors, "\n".join(errors)


@pytest.fixture
def proxy(stack: Stack) -> Iterator[Stack]:
    """The stack, failing the test if either server logged an error meanwhile."""
    offsets = stack.offsets()
    yield stack
    assert stack.backend.poll() is None, f"the {stack.kind} backend died"
    errors = stack.errors(offsets)
    stack.checked = stack.offsets()
    assert not errors, "\n".join(errors)


def test_the_app_sees_what_the_client_used(proxy: Stack) -> None:
    with proxy.client() as client:
        answer = client.get("/?q=1").json()
    assert answer == {
        "scheme": "https",  # TLS ended at nginx; the socket carried plain HTTP
        "host": f"127.0.0.1:{proxy.port}",
        "remote": "127.0.0.1",  # a Unix socket has no peer address of its own
        "url": f"https://127.0.0.1:{proxy.port}/?q=1",
        "url_for": f"https://127.0.0.1:{proxy.port}/",
        "forwarded": [],
    }


def test_a_client_cannot_forge_the_forwarded_facts(proxy: Stack) -> None:
    with proxy.client() as client:
        answer = client.get("/", headers=SPOOFED).json()
    assert (answer["scheme"], answer["host"], answer["remote"]) == (
        "https",
        f"127.0.0.1:{proxy.port}",
        "127.0.0.1",
    )
    assert answer["forwarded"] == []  # the recipe drops a client's Forwarded header


def test_an_unknown_host_is_turned_away(proxy: Stack) -> None:
    # The recipe's default server closes the connection (444) before the app is asked.
    with proxy.client() as client, pytest.raises(httpx.RemoteProtocolError):
        client.get("/", headers={"Host": "evil.example"})
    with proxy.client() as client:
        assert client.get("/", headers={"Host": "127.0.0.1"}).json()["host"] == "127.0.0.1"


def test_websocket_echo_through_nginx(proxy: Stack) -> None:
    payload = secrets.token_bytes(100_000)
    with connect(f"wss://127.0.0.1:{proxy.port}/ws", ssl=proxy.ssl_context) as ws:
        ws.send("hello through nginx")
        assert ws.recv(timeout=5) == "hello through nginx"
        ws.send(payload)
        assert ws.recv(timeout=5) == payload


def test_a_large_upload_passes_intact(proxy: Stack) -> None:
    # Four times nginx's default client_max_body_size: passes only with the recipe's.
    body = secrets.token_bytes(4 * 1024 * 1024)
    with proxy.client() as client:
        answer = client.post("/upload", content=body).json()
    assert answer == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_a_body_over_client_max_body_size_is_refused_by_nginx(proxy: Stack) -> None:
    # The declared length is enough for nginx to answer, before any of the body is sent;
    # the app's upload handler takes any size, so a 413 can only come from nginx.
    head = (
        "POST /upload HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{proxy.port}\r\n"
        f"Content-Length: {16 * 1024 * 1024 + 1}\r\n\r\n"
    )
    raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    with proxy.ssl_context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
        conn.sendall(head.encode())
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    refusal = "client intended to send too large body: 16777217 bytes"
    assert refusal in proxy.nginx_log.read_text()
    proxy.expected.append(refusal)


def test_a_stream_is_passed_on_as_it_comes(proxy: Stack) -> None:
    # /ticks writes a line every 0.1 s with X-Accel-Buffering: no. Buffered by nginx,
    # all five lines would arrive together at the end.
    arrivals = []
    with proxy.client() as client, client.stream("GET", "/ticks") as response:
        for line in response.iter_lines():
            arrivals.append((time.monotonic(), line))
    assert [line for _, line in arrivals] == [f"tick {n}" for n in range(5)]
    assert arrivals[-1][0] - arrivals[0][0] > 0.25


# The middleware on its own, over TCP, where the peer's address decides whether the
# headers count. uvicorn's own X-Forwarded-* handling is off, as in the recipe.
DIRECT_OPTIONS = {"native": {}, "uvicorn": {"proxy_headers": False}}


def _whoami(kind: str, trusted: list[str], headers: dict[str, str]) -> tuple[int, Any]:
    with serve(make_app(trusted), kind, **DIRECT_OPTIONS[kind]) as server:
        response = httpx.get(f"{server.url}/", headers=headers)
    answer = json.loads(response.text) if response.status_code == 200 else response.text
    return response.status_code, answer


@pytest.mark.parametrize("kind", sorted(DIRECT_OPTIONS))
def test_an_untrusted_peer_cannot_set_the_forwarded_facts(kind: str) -> None:
    headers = {**SPOOFED, "X-Forwarded-Proto": "https"}
    status, answer = _whoami(kind, [], headers)
    assert status == 200
    assert answer["scheme"] == "http"
    assert answer["remote"] == "127.0.0.1"
    assert answer["host"].startswith("127.0.0.1:")


@pytest.mark.parametrize("kind", sorted(DIRECT_OPTIONS))
def test_a_trusted_peer_gives_the_right_most_untrusted_address(kind: str) -> None:
    headers = {
        # client-written, the client as our first proxy saw it, then our own proxies
        "X-Forwarded-For": "192.0.2.1, 198.51.100.7, 10.1.2.3",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "app.example",
    }
    status, answer = _whoami(kind, ["127.0.0.1", "10.0.0.0/8"], headers)
    assert status == 200
    assert answer == {
        "scheme": "https",
        "host": "app.example",
        "remote": "198.51.100.7",
        "url": "https://app.example/",
        "url_for": "https://app.example/",
        "forwarded": [],
    }


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": "not-an-address"},
        {"X-Forwarded-For": "192.0.2.1", "X-Forwarded-Proto": "gopher"},
    ],
)
def test_a_malformed_header_from_a_trusted_peer_is_a_400(headers: dict[str, str]) -> None:
    status, _ = _whoami("native", ["127.0.0.1"], headers)
    assert status == 400
