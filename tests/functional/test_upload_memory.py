"""A 200 MiB upload, streamed by the handler, leaves the server's memory flat on every path."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SIZE = 200 * 1024 * 1024
CHUNK = b"0123456789abcdef" * 4096  # 64 KiB


def command(kind: str, port: int) -> list[str]:
    if kind == "native":
        return [sys.executable, "-m", "tests.apps.upload", str(port)]
    if kind == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "tests.apps.upload:app", "--port", str(port),
                "--log-level", "warning", "--no-access-log"]  # fmt: skip
    return [sys.executable, "-m", "hypercorn", "tests.apps.upload:app", "-b",
            f"127.0.0.1:{port}", "--log-level", "warning"]  # fmt: skip


@pytest.fixture
def server_process(path_kind: str) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(command(path_kind, port), cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/rss", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{path_kind} server did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def body() -> Iterator[bytes]:
    for _ in range(SIZE // len(CHUNK)):
        yield CHUNK


def expected_sha() -> str:
    digest = hashlib.sha256()
    for chunk in body():
        digest.update(chunk)
    return digest.hexdigest()


def test_200_mib_streamed_upload_keeps_memory_flat(server_process: str, path_kind: str) -> None:
    before = httpx.get(server_process + "/rss").json()["VmHWM"]
    r = httpx.post(server_process + "/raw", content=body(), timeout=120)
    assert r.json() == {"size": SIZE, "sha": expected_sha()}
    after = httpx.get(server_process + "/rss").json()["VmHWM"]
    growth_mib = (after - before) / 1024
    print(f"\n{path_kind}: 200 MiB raw upload, peak RSS growth {growth_mib:.1f} MiB")
    assert growth_mib < 40, f"peak RSS grew by {growth_mib:.1f} MiB"


def test_200_mib_multipart_upload_keeps_memory_flat(
    server_process: str, path_kind: str, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for chunk in body():
            f.write(chunk)
    before = httpx.get(server_process + "/rss").json()["VmHWM"]
    with open(big, "rb") as f:
        r = httpx.post(server_process + "/multipart", files={"f": ("big.bin", f)}, timeout=120)
    assert r.json() == {"size": SIZE, "sha": expected_sha()}
    after = httpx.get(server_process + "/rss").json()["VmHWM"]
    growth_mib = (after - before) / 1024
    print(f"\n{path_kind}: 200 MiB multipart upload, peak RSS growth {growth_mib:.1f} MiB")
    assert growth_mib < 40, f"peak RSS grew by {growth_mib:.1f} MiB"
