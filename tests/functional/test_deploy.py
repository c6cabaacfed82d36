"""Whole processes: run_app under SIGINT/SIGTERM, the command line, and gunicorn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from servers import free_port

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")


def finish(proc: subprocess.Popen[bytes]) -> str:
    """Stop ``proc`` if it still runs; return its output and close its pipe."""
    if proc.poll() is None:
        proc.kill()
    assert proc.stdout is not None
    with proc.stdout:
        output = proc.stdout.read().decode()
    proc.wait()
    return output


def wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"server did not start:\n{out}") from None
            time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_app_finishes_in_flight_requests_on_signal(sig: signal.Signals) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.apps.slow", str(port), "127.0.0.1", "127.0.0.2"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/", proc)
        assert httpx.get(f"http://127.0.0.2:{port}/").text == "hello"  # both hosts listen
        results: list[int] = []

        def slow_request() -> None:
            r = httpx.get(base + "/slow?t=1", timeout=10)
            results.append(len(r.content) if r.status_code == 200 else -r.status_code)

        threads = [threading.Thread(target=slow_request) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.4)  # the requests are in the handler now
        proc.send_signal(sig)
        for t in threads:
            t.join(15)
        code = proc.wait(15)
    finally:
        output = finish(proc)
    assert results == [1024 * 1024] * 3, output
    assert code == 0, output
    assert "======== Running on http://127.0.0.1:" in output and "(Press CTRL+C to quit)" in output
    # aiohttp's order: on_shutdown while requests are still in flight, on_cleanup after.
    assert output.index("on_shutdown") < output.index("on_cleanup")


def test_command_line_serves_an_init_func_with_extra_arguments() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "asgiweb.web", "-H", "127.0.0.1", "-P", str(port),
         "tests.apps.slow:init", "--flag", "value"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", proc)
        assert httpx.get(f"http://127.0.0.1:{port}/argv").json() == ["--flag", "value"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
    finally:
        finish(proc)


@pytest.mark.parametrize(
    "target, message",
    [
        ("no_colon", "'entry-func' not in 'module:function' syntax"),
        ("no.such.module:f", "unable to import no.such.module"),
        ("tests.apps.slow:missing", "has no attribute 'missing'"),
        # An Application is served as is (uvicorn's 'module:app'); arguments are for a function.
        (
            "tests.apps.upload:app --flag",
            "unrecognized arguments: --flag (tests.apps.upload:app is an Application",
        ),
        ("tests.apps.slow:BIG", "is not callable"),
    ],
)
def test_command_line_errors_are_clear(target: str, message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "asgiweb.web", *target.split()],
        cwd=ROOT, env=ENV, capture_output=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert message in proc.stderr.decode()


# The documented path, and the worker's home beside the native server.
@pytest.mark.parametrize(
    "worker", ["asgiweb.worker.GunicornWebWorker", "native_server.worker.GunicornWebWorker"]
)
def test_gunicorn_worker(worker: str) -> None:
    pytest.importorskip("gunicorn")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tests.apps.upload:app", "--bind",
         f"127.0.0.1:{port}", "--worker-class", worker,
         "--workers", "2", "--access-logfile", "-"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}/rss", proc)
        r = httpx.post(f"http://127.0.0.1:{port}/raw", content=b"abc")
        assert r.json()["size"] == 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        output = finish(proc)
    assert f"Using worker: {worker}" in output
    assert '"POST /raw HTTP/1.1" 200' in output  # the access log, in our format
