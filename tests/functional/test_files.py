"""FileResponse over real sockets on every path: validators, conditions, ranges,
pre-compressed siblings, large and sparse files, and the no-sendfile switch."""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import gzip
import importlib.util
import math
import os
import random
import socket
import subprocess
import sys
import tracemalloc
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import serve

import native_server.sink
from asgiweb import cached_open, web

TEXT = b"hello world, 0123456789\n"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    root.mkdir()
    (root / "a.txt").write_bytes(TEXT)
    (root / "page.html").write_bytes(b"<h1>x</h1>")
    (root / "README").write_bytes(b"no extension")
    (root / "archive.tar.gz").write_bytes(b"not really a tarball")
    (root / "empty.bin").write_bytes(b"")
    (root / "sub").mkdir()
    return root


def file_app(root: Path) -> web.Application:
    async def serve_file(request: web.Request) -> web.FileResponse:
        return web.FileResponse(root / request.match_info["name"])

    async def custom(request: web.Request) -> web.FileResponse:
        headers = {"Content-Type": "x-custom/type", "X-Extra": "1"}
        return web.FileResponse(root / "a.txt", status=201, headers=headers)

    async def prepared(request: web.Request) -> web.FileResponse:
        response = web.FileResponse(str(root / "a.txt"))
        await response.prepare(request)  # prepare() in the handler, then returned
        return response

    async def compressed(request: web.Request) -> web.FileResponse:
        response = web.FileResponse(root / request.match_info["name"])
        response.enable_compression()
        return response

    app = web.Application()
    app.router.add_get("/f/{name:.*}", serve_file)
    app.router.add_get("/custom", custom)
    app.router.add_get("/prepared", prepared)
    app.router.add_get("/gz/{name:.*}", compressed)
    return app


def validators(path: Path) -> tuple[str, str]:
    st = path.stat()
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"', formatdate(math.ceil(st.st_mtime), usegmt=True)


def raw_body(client: httpx.Client, url: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
    """The body as sent, before any content decoding."""
    with client.stream("GET", url, **kwargs) as response:
        return response, b"".join(response.iter_raw())


def test_type_and_validators(serve_app, files: Path) -> None:
    etag, last_modified = validators(files / "a.txt")
    with serve_app(file_app(files)) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/f/a.txt")
        assert r.status_code == 200 and r.content == TEXT
        assert r.headers["content-type"] == "text/plain"
        assert r.headers["etag"] == etag
        assert r.headers["last-modified"] == last_modified
        assert r.headers["content-length"] == str(len(TEXT))
        assert r.headers["accept-ranges"] == "bytes"
        assert client.get("/f/page.html").headers["content-type"] == "text/html"
        assert client.get("/f/README").headers["content-type"] == "application/octet-stream"
        # A compressed file asked for by its own name is that file, not what it holds.
        assert client.get("/f/archive.tar.gz").headers["content-type"] == "application/gzip"
        r = client.get("/f/empty.bin")
        assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == "0"
        r = client.get("/custom")
        assert r.status_code == 201 and r.content == TEXT
        assert r.headers["content-type"] == "x-custom/type" and r.headers["x-extra"] == "1"
        r = client.get("/prepared")
        assert r.status_code == 200 and r.content == TEXT


def test_each_file_carries_its_own_validators(serve_app, files: Path) -> None:
    # Requests alternate between files of different ages: nothing from one answer (the
    # Last-Modified text is formatted once per distinct time) may leak into the next.
    os.utime(files / "a.txt", ns=(0, 1_600_000_000_250_000_000))
    os.utime(files / "page.html", ns=(0, 1_700_000_000_000_000_000))
    with serve_app(file_app(files)) as server, httpx.Client(base_url=server.url) as client:
        for _ in range(2):
            for name in ("a.txt", "page.html"):
                etag, last_modified = validators(files / name)
                r = client.get(f"/f/{name}")
                assert r.status_code == 200
                assert (r.headers["etag"], r.headers["last-modified"]) == (etag, last_modified)
    assert validators(files / "a.txt")[1] == "Sun, 13 Sep 2020 12:26:41 GMT"  # rounded up


def test_missing_file_and_directory(serve_app, files: Path) -> None:
    with serve_app(file_app(files)) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/f/nope.txt")
        assert r.status_code == 404 and r.content == b""
        r = client.get("/f/sub")
        assert r.status_code == 403 and r.content == b""
        # The connection stays usable after an empty error answer.
        assert client.get("/f/a.txt").content == TEXT


def test_head(serve_app, files: Path) -> None:
    etag, _ = validators(files / "a.txt")
    with serve_app(file_app(files)) as server, httpx.Client(base_url=server.url) as client:
        r = client.head("/f/a.txt")
        assert r.status_code == 200 and r.content == b""
        assert r.headers["content-length"] == str(len(TEXT)) and r.headers["etag"] == etag
        r = client.head("/f/a.txt", headers={"Range": "bytes=0-3"})
        assert r.status_code == 206 and r.content == b""
        assert r.headers["content-range"] == f"bytes 0-3/{len(TEXT)}"
        assert r.headers["content-length"] == "4"
        assert client.get("/f/a.txt").content == TEXT


def test_not_modified(serve_app, files: Path) -> None:
    etag, last_modified = validators(files / "a.txt")
    mtime = math.ceil((files / "a.txt").stat().st_mtime)
    earlier = formatdate(mtime - 1, usegmt=True)
    with serve_app(file_app(files)) as server, httpx.Client(base_url=server.url) as client:
        for condition in (
            {"If-None-Match": etag},
            {"If-None-Match": f"W/{etag}"},  # weak comparison
            {"If-None-Match": "*"},
            {"If-None-Match": f'"other", {etag}'},
            {"If-Modified-Since": last_modified},
            {"If-Modified-Since": formatdate(mtime + 3600, usegmt=True)},
        ):
            r = client.get("/f/a.txt", headers=condition)
            assert r.status_code == 304, condition
            assert r.content == b"" and r.headers["etag"] == etag
            assert "content-length" not in r.headers
        for condition in (
            {"If-None-Match": '"other"'},
            {"If-Modified-Since": earlier},
            {"If-Modified-Since": "not a date"},
            # If-None-Match decides alone when present (RFC 9110 13.2.2).
            {"If-None-Match": '"other"', "If-Modified-Since": last_modified},
        ):
            r = client.get("/f/a.txt", headers=condition)
            assert r.status_code == 200 and r.content == TEXT, condition
        r = client.head("/f/a.txt", headers={"If-None-Match": etag})
        assert r.status_code == 304


def test_precondition_failed(serve_app, files: Path) -> None:
    etag, last_modified = validators(files / "a.txt")
    mtime = math.ceil((files / "a.txt").stat().st_mtime)
    earlier = formatdate(mtime - 1, usegmt=True)
    with serve_app(file_app(files)) as server, httpx.Client(base_url=server.url) as client:
        for condition in (
            {"If-Match": '"other"'},
            {"If-Match": f"W/{etag}"},  # strong comparison: a weak tag never matches
            {"If-Unmodified-Since": earlier},
            {"If-Match": '"other"', "If-None-Match": etag},
            {"If-Match": '"other"', "Range": "bytes=0-3"},
        ):
            r = client.get("/f/a.txt", headers=condition)
            assert r.status_code == 412 and r.content == b"", condition
        for condition in (
            {"If-Match": etag},
            {"If-Match": "*"},
            {"If-Match": f'"other", {etag}'},
            {"If-Unmodified-Since": last_modified},
            # If-Unmodified-Since is ignored when If-Match is present.
            {"If-Match": etag, "If-Unmodified-Since": earlier},
        ):
            r = client.get("/f/a.txt", headers=condition)
            assert r.status_code == 200 and r.content == TEXT, condition


@pytest.mark.parametrize(
    ("header", "content_range", "body"),
    [
        ("bytes=0-3", "bytes 0-3/24", TEXT[0:4]),
        ("bytes=0-0", "bytes 0-0/24", TEXT[0:1]),
        ("bytes=5-", "bytes 5-23/24", TEXT[5:]),
        ("bytes=23-23", "bytes 23-23/24", TEXT[23:]),
        ("bytes=-4", "bytes 20-23/24", TEXT[-4:]),
        ("bytes=20-100", "bytes 20-23/24", TEXT[20:]),
        ("bytes=-100", "bytes 0-23/24", TEXT),
    ],
)
def test_range(serve_app, files: Path, header: str, content_range: str, body: bytes) -> None:
    etag, _ = validators(files / "a.txt")
    with serve_app(file_app(files)) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/f/a.txt", headers={"Range": header})
        assert r.status_code == 206 and r.content == body
        assert r.headers["content-range"] == content_range
        assert r.headers["content-length"] == str(len(body))
        assert r.headers["etag"] == etag and r.headers["accept-ranges"] == "bytes"


def test_range_not_satisfiable(serve_app, files: Path) -> None:
    with serve_app(file_app(files)) as server, httpx.Client(base_url=server.url) as client:
        for header in ("bytes=24-", "bytes=24-30", "bytes=5-3", "bytes=0-1,3-4", "items=0-3", "x"):
            r = client.get("/f/a.txt", headers={"Range": header})
            assert r.status_code == 416 and r.content == b"", header
            assert r.headers["content-range"] == "bytes */24"
        r = client.get("/f/empty.bin", headers={"Range": "bytes=-3"})
        assert r.status_code == 416 and r.headers["content-range"] == "bytes */0"


def test_if_range(serve_app, files: Path) -> None:
    etag, last_modified = validators(files / "a.txt")
    mtime = math.ceil((files / "a.txt").stat().st_mtime)
    with serve_app(file_app(files)) as server, httpx.Client(base_url=server.url) as client:
        for if_range in (etag, last_modified, formatdate(mtime + 60, usegmt=True)):
            r = client.get("/f/a.txt", headers={"Range": "bytes=0-3", "If-Range": if_range})
            assert r.status_code == 206 and r.content == TEXT[:4], if_range
        for if_range in ('"other"', f"W/{etag}", formatdate(mtime - 1, usegmt=True), "junk"):
            r = client.get("/f/a.txt", headers={"Range": "bytes=0-3", "If-Range": if_range})
            assert r.status_code == 200 and r.content == TEXT, if_range
        # A stale If-Range means "send it all", even when the range is unsatisfiable.
        r = client.get("/f/a.txt", headers={"Range": "bytes=99-", "If-Range": '"other"'})
        assert r.status_code == 200 and r.content == TEXT


@pytest.fixture
def siblings(tmp_path: Path) -> Path:
    root = tmp_path / "siblings"
    root.mkdir()
    for name in ("both.txt", "gzonly.txt", "lnk.txt", "out.txt", "plain.txt"):
        (root / name).write_bytes(b"identity " + name.encode())
    for name in ("both.txt", "gzonly.txt"):
        (root / f"{name}.gz").write_bytes(gzip.compress(b"identity " + name.encode()))
    (root / "both.txt.br").write_bytes(b"BROTLI-BYTES")
    (root / "real.gz").write_bytes(gzip.compress(b"via link"))
    os.symlink("real.gz", root / "lnk.txt.gz")  # stays in the directory: fine
    (tmp_path / "outside.gz").write_bytes(b"OUTSIDE-SECRET")
    os.symlink("../outside.gz", root / "out.txt.gz")  # leads out: never used
    return root


def test_precompressed_siblings(serve_app, siblings: Path) -> None:
    both_br = (siblings / "both.txt.br").read_bytes()
    both_gz = (siblings / "both.txt.gz").read_bytes()
    with serve_app(file_app(siblings)) as server, httpx.Client(base_url=server.url) as client:

        def fetch(name: str, accept: str) -> tuple[httpx.Response, bytes]:
            return raw_body(client, f"/f/{name}", headers={"Accept-Encoding": accept})

        r, body = fetch("both.txt", "gzip, deflate, br")
        assert body == both_br and r.headers["content-encoding"] == "br"
        assert r.headers["content-type"] == "text/plain"
        assert r.headers["vary"] == "Accept-Encoding"
        assert r.headers["content-length"] == str(len(both_br))
        assert r.headers["etag"] == validators(siblings / "both.txt.br")[0]
        r, body = fetch("both.txt", "gzip")
        assert body == both_gz and r.headers["content-encoding"] == "gzip"
        r, body = fetch("both.txt", "x-gzip")
        assert body == both_gz
        r, body = fetch("both.txt", "br;q=0, gzip")  # q=0: not acceptable
        assert body == both_gz
        for accept in ("identity", "gzip;q=0", "*"):
            r, body = fetch("both.txt", accept)
            assert body == b"identity both.txt" and "content-encoding" not in r.headers
            assert "vary" not in r.headers
        r, body = fetch("gzonly.txt", "br")
        assert body == b"identity gzonly.txt"
        r, body = fetch("plain.txt", "gzip, br")
        assert body == b"identity plain.txt" and "content-encoding" not in r.headers
        r, body = fetch("lnk.txt", "gzip")
        assert gzip.decompress(body) == b"via link"
        r, body = fetch("out.txt", "gzip")
        assert body == b"identity out.txt" and b"OUTSIDE-SECRET" not in body
        # A range applies to the representation sent.
        r, body = raw_body(
            client, "/f/both.txt", headers={"Accept-Encoding": "gzip", "Range": "bytes=0-1"}
        )
        assert r.status_code == 206 and body == both_gz[:2]
        assert r.headers["content-range"] == f"bytes 0-1/{len(both_gz)}"
        # httpx decodes what it was sent: the same text either way.
        assert client.get("/f/gzonly.txt").text == "identity gzonly.txt"


def test_enable_compression_on_a_file(serve_app, files: Path) -> None:
    with serve_app(file_app(files)) as server, httpx.Client(base_url=server.url) as client:
        r, body = raw_body(client, "/gz/a.txt", headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip" and gzip.decompress(body) == TEXT
        r, body = raw_body(client, "/gz/a.txt", headers={"Accept-Encoding": "identity"})
        assert body == TEXT and r.headers["content-length"] == str(len(TEXT))


@pytest.fixture
def big_file(tmp_path: Path) -> tuple[Path, bytes]:
    data = random.Random(7).randbytes(5 * 1024 * 1024 + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    return path, data


def big_app(path: Path) -> web.Application:
    async def handler(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path, chunk_size=64 * 1024)

    app = web.Application()
    app.router.add_get("/big", handler)
    return app


def test_large_file_byte_exact(serve_app, big_file: tuple[Path, bytes]) -> None:
    path, data = big_file
    with serve_app(big_app(path)) as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/big")
        assert r.status_code == 200 and len(r.content) == len(data) and r.content == data
        r = client.get("/big", headers={"Range": "bytes=1000000-3999999"})
        assert r.status_code == 206 and r.content == data[1000000:4000000]
        # Keep-alive survives a large body: the next request on the connection works.
        assert client.get("/big", headers={"Range": "bytes=-10"}).content == data[-10:]


def test_client_leaving_mid_body(serve_app, big_file: tuple[Path, bytes]) -> None:
    path, data = big_file
    with serve_app(big_app(path)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/big").content == data


def test_sparse_gib_file_range(serve_app, tmp_path: Path) -> None:
    size = 1 << 30
    marker = b"END-OF-THE-GIB!!"
    path = tmp_path / "sparse.bin"
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(size - len(marker))
        f.write(marker)
    with serve_app(big_app(path)) as server, httpx.Client(base_url=server.url) as client:
        tracemalloc.start()
        try:
            r = client.get("/big", headers={"Range": f"bytes=-{len(marker)}"})
            assert r.status_code == 206 and r.content == marker
            assert r.headers["content-range"] == f"bytes {size - 16}-{size - 1}/{size}"
            r = client.get("/big", headers={"Range": f"bytes={size - 4112}-{size - 1}"})
            assert r.content == bytes(4096) + marker
            r = client.head("/big")
            assert r.headers["content-length"] == str(size)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        # Nothing near the file's size was ever held in memory.
        assert peak < 32 * 1024 * 1024


def test_without_sendfile(serve_app, path_kind: str, big_file, monkeypatch) -> None:
    path, data = big_file
    copies: list[int] = []
    real_copy = native_server.sink.copy_file

    async def counting_copy(file: Any, offset: int, count: int, *args: Any) -> None:
        copies.append(count)
        await real_copy(file, offset, count, *args)

    monkeypatch.setattr(native_server.sink, "copy_file", counting_copy)
    with serve_app(big_app(path)) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/big").content == data
        assert copies == []  # zero-copy sendfile where the path has it
        monkeypatch.setattr(native_server.sink, "_SENDFILE", False)
        assert client.get("/big").content == data
        r = client.get("/big", headers={"Range": "bytes=10-20"})
        assert r.status_code == 206 and r.content == data[10:21]
    if path_kind == "native":
        assert copies == [len(data), 11]


LOOPS = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(
    importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"))]  # fmt: skip


@pytest.fixture
def fallbacks(monkeypatch) -> list[tuple[str, int]]:
    """The native sink's slower ways to send a file, called with how many bytes."""
    calls: list[tuple[str, int]] = []
    real_copy = native_server.sink.copy_file
    real_sendfile = asyncio.BaseEventLoop.sendfile

    async def counting_copy(file: Any, offset: int, count: int, *args: Any) -> None:
        calls.append(("copy", count))
        await real_copy(file, offset, count, *args)

    async def counting_sendfile(loop: Any, transport: Any, file: Any, offset: int = 0,
                                count: int | None = None, **kwargs: Any) -> int:  # fmt: skip
        calls.append(("loop.sendfile", count or 0))
        return await real_sendfile(loop, transport, file, offset, count, **kwargs)

    monkeypatch.setattr(native_server.sink, "copy_file", counting_copy)
    monkeypatch.setattr(asyncio.BaseEventLoop, "sendfile", counting_sendfile)
    return calls


@pytest.mark.parametrize("loop", LOOPS)
def test_native_file_straight_to_the_socket(
    loop: str, tmp_path: Path, fallbacks: list[tuple[str, int]]
) -> None:
    """The native server hands a file to the socket with one sendfile(2) for what the
    socket takes at once, on asyncio and on uvloop (which has no loop.sendfile): a file
    that fits never goes through loop.sendfile or a copy in Python."""
    data = random.Random(3).randbytes(3000)
    path = tmp_path / "small.bin"
    path.write_bytes(data)
    with serve(big_app(path), "native", loop=loop) as server:
        with httpx.Client(base_url=server.url) as client:
            for _ in range(3):  # and keep-alive goes on after each
                assert client.get("/big").content == data
            r = client.get("/big", headers={"Range": "bytes=100-199"})
            assert r.status_code == 206 and r.content == data[100:200]
    assert fallbacks == []


@pytest.mark.parametrize("loop", LOOPS)
def test_native_file_rest_after_a_full_socket(
    loop: str, tmp_path: Path, fallbacks: list[tuple[str, int]]
) -> None:
    """What the socket does not take at once goes the slower way, from where the first
    sendfile(2) stopped: every byte arrives, in order, after the head. (32 MiB: more
    than the kernel's socket buffers hold, whatever their autotuning.)"""
    blocks = [index.to_bytes(4, "big") * 16384 for index in range(512)]  # 64 KiB each
    data = b"".join(blocks)
    path = tmp_path / "huge.bin"
    path.write_bytes(data)
    with serve(big_app(path), "native", loop=loop) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            r = client.get("/big")
            assert r.headers["content-length"] == str(len(data))
            assert r.content == data
            assert client.get("/big", headers={"Range": "bytes=-4"}).content == data[-4:]
    # The direct sendfile took a first part (and all of the 4 bytes); the rest went the
    # loop's way: loop.sendfile on asyncio, a copy on uvloop.
    assert len(fallbacks) == 1
    kind, count = fallbacks[0]
    assert kind == ("copy" if loop == "uvloop" else "loop.sendfile")
    assert 0 < count < len(data)


def test_nosendfile_environment_switch() -> None:
    code = "import native_server.sink as p; print(p._SENDFILE)"
    for value, expected in (("1", "False"), ("0", "True"), ("", "True")):
        env = {**os.environ, "ASGIWEB_NOSENDFILE": value}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected, value


class _CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor, counting the calls handed to a thread."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.calls = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.calls += 1
        return super().submit(fn, *args, **kwargs)


@pytest.mark.skipif(not cached_open.supported(), reason="needs openat2 with RESOLVE_CACHED")
def test_a_cached_file_opens_without_a_thread_and_answers_the_same(
    serve_app, siblings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Opened on the loop when the kernel has its names cached (openat2 RESOLVE_CACHED),
    # in a thread otherwise: every answer the same either way, and only the plain
    # successes are spared the thread.
    requests = [
        ("plain.txt", "", True),
        ("both.txt", "gzip, br", True),
        ("both.txt", "gzip", True),
        ("gzonly.txt", "br, gzip", True),
        ("lnk.txt", "gzip", False),  # a symlinked sibling: settled in the thread
        ("out.txt", "gzip", False),
        ("missing.txt", "", False),  # 404 and 403 are worded by the thread's open
        ("sub", "", False),
    ]
    (siblings / "sub").mkdir()

    def answers(executor: _CountingExecutor) -> list[tuple[Any, ...]]:
        async def install(app: web.Application) -> None:
            asyncio.get_running_loop().set_default_executor(executor)

        app = file_app(siblings)
        app.on_startup.append(install)
        seen = []
        with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
            for name, accept, _ in requests:  # the names looked up once: now cached
                client.get(f"/f/{name}", headers={"Accept-Encoding": accept})
            for name, accept, cached in requests:
                before = executor.calls
                r, body = raw_body(client, f"/f/{name}", headers={"Accept-Encoding": accept})
                headers = {k: v for k, v in r.headers.items() if k != "date"}
                seen.append((r.status_code, headers, body))
                threads = executor.calls - before
                if executor is cached_run:
                    assert threads == (0 if cached else 1), (name, accept)
                else:
                    assert threads == 1, (name, accept)
        return seen

    cached_run = _CountingExecutor()
    with_cache = answers(cached_run)

    def not_cached(path: str, flags: int) -> int:
        raise BlockingIOError(errno.EAGAIN, "not in the lookup cache")

    monkeypatch.setattr(cached_open, "open_cached", not_cached)
    assert answers(_CountingExecutor()) == with_cache
    assert [status for status, _, _ in with_cache] == [200] * 6 + [404, 403]
