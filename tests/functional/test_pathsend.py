"""``http.response.pathsend`` under a server that offers it: granian, in its own process.

The served module wraps the application's ``send`` to record, per request, whether the
scope offered the extension and which messages the application sent: that record shows
the file went by name, the bytes and headers the client got show the server sent it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import free_port

from tests.servers import wait_listening

pytest.importorskip("granian")

BIG = bytes(range(256)) * 4096 * 3  # 3 MiB
SMALL = b"static text\n" * 100

APP_MODULE = """
import json
import os

from asgiweb import web

ROOT = os.environ["PATHSEND_ROOT"]
RECORD = os.environ["PATHSEND_RECORD"]


async def big(request):
    return web.FileResponse(os.path.join(ROOT, "big.bin"))


inner = web.Application()
inner.router.add_get("/big", big)
inner.router.add_static("/static", ROOT)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return await inner(scope, receive, send)
    offered = "http.response.pathsend" in scope.get("extensions", {})

    async def recording(message):
        entry = {"path": scope["path"], "offered": offered, "type": message["type"]}
        if message["type"] == "http.response.pathsend":
            entry["file"] = message["path"]
        with open(RECORD, "a") as record:
            record.write(json.dumps(entry) + "\\n")
        await send(message)

    await inner(scope, receive, recording)
"""


class Granian:
    def __init__(self, url: str, record: Path, output: Path) -> None:
        self.url = url
        self.record = record
        self.output = output

    def sent(self, path: str) -> list[dict[str, Any]]:
        """The messages the application sent for ``path``, in order (all requests)."""
        lines = self.record.read_text().splitlines() if self.record.exists() else []
        return [entry for entry in map(json.loads, lines) if entry["path"] == path]


@pytest.fixture(scope="module")
def granian(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Granian]:
    tmp = tmp_path_factory.mktemp("pathsend")
    root = tmp / "files"
    root.mkdir()
    (root / "big.bin").write_bytes(BIG)
    (root / "small.txt").write_bytes(SMALL)
    (tmp / "pathsend_app.py").write_text(APP_MODULE)
    record, output = tmp / "record.jsonl", tmp / "granian.log"
    port = free_port()
    env = {
        **os.environ,
        "PATHSEND_ROOT": str(root),
        "PATHSEND_RECORD": str(record),
        "PYTHONPATH": str(tmp),  # asgiweb itself is installed in the environment
    }
    command = [sys.executable, "-m", "granian", "--interface", "asgi"]
    command += ["--host", "127.0.0.1", "--port", str(port), "pathsend_app:app"]
    with output.open("w") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
    try:
        wait_listening(port, timeout=20, process=process)
        yield Granian(f"http://127.0.0.1:{port}", record, output)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    # The server's own account: an application error or a panic fails the module.
    text = output.read_text()
    assert "Traceback" not in text and "ERROR" not in text and "panicked" not in text, text


def _check_file_headers(response: httpx.Response, size: int) -> None:
    assert response.headers["content-length"] == str(size)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert "last-modified" in response.headers
    assert "transfer-encoding" not in response.headers


def test_a_file_response_of_megabytes_goes_by_name(granian: Granian) -> None:
    with httpx.Client(base_url=granian.url, timeout=10) as client:
        response = client.get("/big")
    assert response.status_code == 200
    assert response.content == BIG
    _check_file_headers(response, len(BIG))
    assert response.headers["content-type"] == "application/octet-stream"
    sent = granian.sent("/big")
    assert [entry["type"] for entry in sent] == ["http.response.start", "http.response.pathsend"]
    assert sent[0]["offered"] is True
    assert sent[1]["file"].endswith(os.sep + "big.bin") and os.path.isabs(sent[1]["file"])


def test_static_files_go_by_name_and_ranges_and_heads_do_not(granian: Granian) -> None:
    with httpx.Client(base_url=granian.url, timeout=10) as client:
        whole = client.get("/static/small.txt")
        assert whole.status_code == 200
        assert whole.content == SMALL
        _check_file_headers(whole, len(SMALL))
        assert whole.headers["content-type"].startswith("text/plain")
        sent = granian.sent("/static/small.txt")
        assert [entry["type"] for entry in sent][-1] == "http.response.pathsend"
        count = len(sent)

        part = client.get("/static/small.txt", headers={"Range": "bytes=12-23"})
        assert part.status_code == 206
        assert part.content == SMALL[12:24]
        assert part.headers["content-range"] == f"bytes 12-23/{len(SMALL)}"

        head = client.head("/static/small.txt")
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(SMALL))
        assert head.content == b""

        cached = client.get("/static/small.txt", headers={"If-None-Match": whole.headers["etag"]})
        assert cached.status_code == 304
        assert cached.content == b""
    later = granian.sent("/static/small.txt")[count:]
    assert later and all(entry["offered"] for entry in later)
    assert "http.response.pathsend" not in {entry["type"] for entry in later}


def test_over_http2_too(granian: Granian) -> None:
    # granian speaks HTTP/2 with prior knowledge on the same port (--http auto).
    before = len(granian.sent("/big"))
    with httpx.Client(base_url=granian.url, http1=False, http2=True, timeout=10) as client:
        response = client.get("/big")
    assert response.http_version == "HTTP/2"
    assert response.content == BIG
    _check_file_headers(response, len(BIG))
    sent = granian.sent("/big")[before:]
    assert [entry["type"] for entry in sent] == ["http.response.start", "http.response.pathsend"]
