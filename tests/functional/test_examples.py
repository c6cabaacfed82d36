"""The runnable programs in examples/, served by the native server and by uvicorn.

Each example's own ``app`` (or a fresh one from its ``make_app``) is served in-process by
:func:`servers.serve` and driven by real clients; then each new example is started as a
program, ``python examples/NAME.py`` and ``uvicorn examples.NAME:app``, and answers once.

Covered elsewhere, not repeated here: chat.py by test_chat_example.py (and its page in a
browser by test_chat_browser.py; here only a client hanging up early); mount_in_starlette.py,
mount_foreign.py and mount_in_fastapi.py (on hypercorn) by test_mounting.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from example_apps import EXAMPLES, load_example
from servers import free_port, serve, wait_listening
from websockets.sync.client import connect

ROOT = Path(__file__).parents[2]
KINDS = ("native", "uvicorn")


load = load_example


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


# -- hello.py -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_hello(kind: str) -> None:
    with serve(load("hello").app, kind) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/").text == "Hello, world"
        assert client.get("/ann").text == "Hello, ann"
        assert client.get("/user/42").json() == {"id": 42}
        assert client.post("/echo", content="ping").json() == {"received": "ping"}


def test_mount_in_fastapi_under_uvicorn() -> None:
    """test_mounting.py serves this one on hypercorn only."""
    pytest.importorskip("fastapi")
    with serve(load("mount_in_fastapi").app, "uvicorn") as server:
        reply = httpx.get(server.url + "/legacy/hello/bob")
    assert reply.status_code == 200
    assert reply.text.startswith("Hello, bob; next: http://")


# -- chat.py: one case test_chat_example.py does not cover -----------------------------------

HANDSHAKE = (
    b"GET /ws?name=bob HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
# A masked close frame, code 1001 Going Away, as a browser sends when its tab closes.
CLOSE_1001 = bytes([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xE9 ^ 2])


@pytest.mark.parametrize("kind", KINDS)
def test_chat_peer_hangs_up_after_its_close_frame(kind: str) -> None:
    """Bob sends his close frame and closes the socket without waiting for the reply (a
    browser closing a tab can): his handler ends normally and Ann is told he left."""
    chat = load("chat")
    app = chat.make_app()
    with serve(app, kind) as server:
        with connect(server.url.replace("http", "ws", 1) + "/ws?name=ann") as ann:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as bob:
                bob.sendall(HANDSHAKE)
                assert bob.recv(4096).startswith(b"HTTP/1.1 101 ")
                assert ann.recv(timeout=5) == "bob joined"
                bob.sendall(CLOSE_1001)
            # Sent within milliseconds when it is sent at all: no need to wait long.
            assert ann.recv(timeout=2) == "bob left"
        wait_for(lambda: not app[chat.room_key])


# -- json_api.py ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_json_api(kind: str) -> None:
    example = load("json_api")
    ann = {"Authorization": "Bearer ann-token"}
    bob = {"Authorization": "Bearer bob-token"}
    with serve(example.make_app(), kind) as server, httpx.Client(base_url=server.url) as client:
        missing = client.get("/notes")
        assert missing.status_code == 401
        assert missing.headers["content-type"].startswith("application/json")
        assert missing.headers["www-authenticate"] == "Bearer"
        assert missing.json() == {"error": "missing bearer token"}
        wrong = client.get("/notes", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.json() == {"error": "invalid token"}
        basic = client.get("/notes", headers={"Authorization": "Basic YW5uOng="})
        assert basic.status_code == 401

        created = client.post("/notes", json={"text": "buy milk"}, headers=ann)
        assert created.status_code == 201
        # The owner comes from the token, through the middleware: not from the body.
        assert created.json() == {"id": 1, "owner": "ann", "text": "buy milk"}
        assert created.headers["location"] == "/notes/1"
        assert client.get("/notes", headers=ann).json() == [created.json()]
        assert client.get("/notes", headers=bob).json() == []
        assert client.get("/notes/1", headers=bob).status_code == 404
        assert client.get("/notes/1", headers=ann).json()["text"] == "buy milk"

        bad = client.post("/notes", content=b"{", headers=ann)
        assert (bad.status_code, bad.json()) == (400, {"error": "the body is not JSON"})
        not_allowed = client.patch("/notes/1", headers=ann)  # the View has no patch()
        assert (not_allowed.status_code, not_allowed.headers["allow"]) == (405, "DELETE,GET")
        assert client.delete("/notes/1", headers=ann).status_code == 204
        assert client.get("/notes/1", headers=ann).status_code == 404


# -- upload.py ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_upload_form_and_file(kind: str, tmp_path: Path) -> None:
    app = load("upload").make_app(tmp_path / "uploads")
    data = os.urandom(300_000)  # several chunks of read_chunk()
    with serve(app, kind) as server, httpx.Client(base_url=server.url) as client:
        assert client.post("/greet", data={"name": "ann"}).text == "Hello, ann"
        assert client.post("/greet", data={}).status_code == 400
        reply = client.post("/upload", files={"file": ("../../notes.bin", data)})
        assert reply.status_code == 201
        assert reply.json() == {"name": "notes.bin", "size": len(data)}
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == ["notes.bin"]
    assert (tmp_path / "uploads" / "notes.bin").read_bytes() == data


@pytest.mark.parametrize("kind", KINDS)
def test_upload_over_the_limit_is_413_and_leaves_nothing(kind: str, tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    app = load("upload").make_app(uploads, max_upload=64 * 1024)
    with serve(app, kind) as server:
        reply = httpx.post(server.url + "/upload", files={"file": ("big.bin", bytes(256_000))})
        assert reply.status_code == 413
        assert "Maximum request body size 65536 exceeded" in reply.text
        # Refused mid-stream: not the file, nor the part of it written before the limit.
        assert list(uploads.iterdir()) == []
        small = httpx.post(server.url + "/upload", files={"file": ("ok.bin", b"x" * 100)})
        assert small.status_code == 201
    assert [p.name for p in uploads.iterdir()] == ["ok.bin"]


@pytest.mark.parametrize("kind", KINDS)
def test_upload_cut_short_leaves_nothing(kind: str, tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    app = load("upload").make_app(uploads)
    head = (
        b"POST /upload HTTP/1.1\r\nHost: example\r\nContent-Length: 1000000\r\n"
        b"Content-Type: multipart/form-data; boundary=cut\r\n\r\n"
        b'--cut\r\nContent-Disposition: form-data; name="file"; filename="gone.bin"\r\n\r\n'
    )
    with serve(app, kind) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as client:
            client.sendall(head + bytes(100_000))
            wait_for((uploads / "gone.bin.part").exists)  # being written
        # The client left mid-file: the handler's cleanup removes what it wrote.
        wait_for(lambda: not any(uploads.iterdir()))


# -- static_site.py -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_static_site(kind: str) -> None:
    site = EXAMPLES / "static_site"
    with serve(load("static_site").make_app(), kind) as server:
        with httpx.Client(base_url=server.url) as client:
            index = client.get("/")
            css = client.get("/static/style.css")
            same_index = client.get("/static/index.html")
            missing = client.get("/static/nothing.css")
            outside = [client.get(f"/static/{up}static_site.py") for up in ("%2e%2e/", "..%2f")]
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert index.content == (site / "index.html").read_bytes()
    assert b'href="/static/style.css"' in index.content
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.content == (site / "style.css").read_bytes()
    assert "last-modified" in css.headers and "etag" in css.headers
    assert same_index.content == index.content
    assert missing.status_code == 404
    assert [reply.status_code for reply in outside] == [404, 404]


# -- subapps.py -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_subapps_and_url_for(kind: str) -> None:
    with serve(load("subapps").make_app(), kind) as server:
        with httpx.Client(base_url=server.url) as client:
            home = client.get("/").json()
            posts = client.get(home["posts"]).json()
            first = client.get(home["first_post"])
            missing = client.get("/blog/posts/nope")
            admin = client.get("/admin/")
            root = client.get("/")
    # Built in the parent from the blog sub-application's route names: prefix included.
    assert home == {
        "self": "/",
        "posts": "/blog/posts",
        "first_post": "/blog/posts/hello?ref=home",
    }
    assert posts == {"posts": {"hello": "/blog/posts/hello", "subapps": "/blog/posts/subapps"}}
    assert first.json() == {"title": "Hello, world", "site": "asgiweb demo", "home": "/"}
    assert missing.status_code == 404
    assert admin.json() == {"admin": True, "self": "/admin/"}
    # The admin's middleware applies to the admin only.
    assert admin.headers["cache-control"] == "no-store"
    assert "cache-control" not in root.headers


# -- background.py --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_background_task_runs_then_is_cancelled(kind: str) -> None:
    example = load("background")
    app = example.make_app(interval=0.01)
    ticker = app[example.ticker_key]
    assert ticker.ticks == 0 and not ticker.running  # nothing before startup
    with serve(app, kind) as server, httpx.Client(base_url=server.url) as client:
        first = client.get("/").json()
        assert first["running"] is True
        wait_for(lambda: client.get("/").json()["ticks"] >= first["ticks"] + 3)
        later = client.get("/").json()
        assert later["last_tick"] is not None and later["last_tick"] <= time.time()
        task = app[example.task_key]
        assert not task.done()
    # The server is stopped: cleanup_ctx cancelled the task and waited for it.
    assert task.cancelled()
    assert ticker.running is False
    ticks = ticker.ticks
    time.sleep(0.05)  # five intervals: a task still alive would have ticked
    assert ticker.ticks == ticks


# -- sse.py ---------------------------------------------------------------------------------


class EventStream:
    """Server-sent events read off an open response, as they arrive."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buffer = b""
        self.comments: list[bytes] = []

    def next_block(self) -> bytes:
        """The next event or comment, without its blank line."""
        while b"\n\n" not in self.buffer:
            self.buffer += next(self.chunks)
        block, self.buffer = self.buffer.split(b"\n\n", 1)
        return block

    def next_event(self) -> dict[str, str]:
        """The next event's fields, the comments before it kept in ``comments``."""
        while (block := self.next_block()).startswith(b":"):
            self.comments.append(block)
        fields: dict[str, str] = {}
        for line in block.decode().split("\n"):
            name, _, value = line.partition(": ")
            # Several "data" lines are one value, joined by line breaks.
            fields[name] = f"{fields[name]}\n{value}" if name in fields else value
        return fields


@pytest.mark.parametrize("kind", KINDS)
def test_sse_events_arrive_one_by_one(kind: str) -> None:
    example = load("sse")
    app = example.make_app(keepalive=0.05)
    listeners = app[example.broker_key].listeners
    timeout = httpx.Timeout(5.0)
    with serve(app, kind) as server, httpx.Client(base_url=server.url, timeout=timeout) as client:
        with client.stream("GET", "/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/event-stream"
            assert response.headers["cache-control"] == "no-cache"
            events = EventStream(response.iter_raw())
            wait_for(lambda: len(listeners) == 1)
            # Each event is read before the next is published: a buffered stream hangs here.
            assert client.post("/publish", content="one").json() == {"listeners": 1}
            assert events.next_event() == {"id": "1", "event": "message", "data": "one"}
            client.post("/publish", content="two\nlines")
            assert events.next_event() == {"id": "2", "event": "message", "data": "two\nlines"}
            assert events.comments[0] == b": connected"
            assert events.next_block() == b": keep-alive"  # nothing to say for a while
        # The client hung up: the next keep-alive write fails and the listener is dropped.
        wait_for(lambda: not listeners)
        assert client.post("/publish", content="to nobody").json() == {"listeners": 0}


def test_sse_streams_end_at_native_shutdown() -> None:
    """on_shutdown ends open streams, so stopping does not wait for the listeners to leave
    (uvicorn waits for open connections before the lifespan shutdown: not tested)."""
    example = load("sse")
    app = example.make_app()  # keep-alive 15 s: only the shutdown can end the stream
    with socket.socket() as sock:
        started = time.monotonic()
        with serve(app, "native") as server:
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(b"GET /events HTTP/1.1\r\nHost: example\r\n\r\n")
            wait_for(lambda: len(app[example.broker_key].listeners) == 1)
        assert time.monotonic() - started < 5
        sock.settimeout(5)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert b": connected\n\n" in received
    assert received.endswith(b"\r\n0\r\n\r\n")  # the last chunk: a clean end, no reset


# -- each new example as a program ----------------------------------------------------------

PROGRAMS = {
    # name: (path, headers, status, text in the body)
    "json_api": ("/notes", {"Authorization": "Bearer ann-token"}, 200, "[]"),
    "upload": ("/", {}, 200, 'enctype="multipart/form-data"'),
    "static_site": ("/static/style.css", {}, 200, "font-family"),
    "subapps": ("/blog/posts/hello", {}, 200, "Hello, world"),
    "background": ("/", {}, 200, '"running": true'),
    "sse": ("/", {}, 200, "EventSource"),
}


def _run_program(name: str, command: list[str], port: int, tmp_path: Path) -> int:
    """Start ``command``, ask it one thing, stop it with SIGTERM; its exit code."""
    env = os.environ | {"PORT": str(port), "UPLOAD_DIR": str(tmp_path / "uploads")}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_listening(port, process=process)
        path, headers, status, text = PROGRAMS[name]
        reply = httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=5)
        assert reply.status_code == status
        assert text in reply.text
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=10)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert "Traceback" not in output, output
    assert f"127.0.0.1:{port}" in output, output  # it said where it listens
    return process.returncode


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_runs_natively_as_a_program(name: str, tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, f"examples/{name}.py"]
    assert _run_program(name, command, port, tmp_path) == 0


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_runs_under_uvicorn_as_a_program(name: str, tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", f"examples.{name}:app", "--port", str(port)]
    # uvicorn (0.29 and later) re-raises the signal it stopped on once it is done.
    assert _run_program(name, command, port, tmp_path) == -signal.SIGTERM
