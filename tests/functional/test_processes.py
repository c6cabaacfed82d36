"""More than one process: gunicorn, ``uvicorn --workers``, and the native ``--workers`` and
``--reload`` of ``python -m asgiweb.web`` (docs/processes.md).

Each test starts one real process tree in its own session, proves every worker answers,
then that SIGTERM to the parent lets an in-flight request finish before everything exits
with status 0. Logs go to tmp_path and into every assertion message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from servers import free_port

ROOT = Path(__file__).resolve().parents[2]
BODY_SIZE = 1_000_000

APP = """
import asyncio
import os

from asgiweb import web


async def pid(request: web.Request) -> web.Response:
    return web.Response(text=str(os.getpid()))


async def slow(request: web.Request) -> web.Response:
    print("slow handler started", flush=True)
    await asyncio.sleep(0.5)
    return web.Response(body=b"x" * 1_000_000)


app = web.Application()
app.router.add_get("/pid", pid)
app.router.add_get("/slow", slow)
"""


class Tree:
    """A started process (the root of a process tree) and the file it logs to."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path, url: str) -> None:
        self.proc = proc
        self.log = log
        self.url = url

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, what: Callable[[], bool], failure: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            if time.monotonic() > deadline:
                raise AssertionError(f"{failure}; log:\n{self.output()}")
            assert self.proc.poll() is None, f"exited early; log:\n{self.output()}"
            time.sleep(0.05)

    def get(self, path: str) -> httpx.Response | None:
        """GET on a new connection; None while nothing listens."""
        try:
            return httpx.get(self.url + path, timeout=5)
        except httpx.TransportError:
            return None

    def pids(self, count: int, exclude: Collection[int] = ()) -> set[int]:
        """Ask on new connections until ``count`` distinct worker pids not in ``exclude``
        answered; each connection may land on any worker."""
        seen: set[int] = set()

        def more() -> bool:
            r = self.get("/pid")
            if r is not None and r.status_code == 200 and int(r.text) not in exclude:
                seen.add(int(r.text))
            return len(seen) >= count

        self.wait_for(more, f"{count} workers did not all answer (saw {seen})")
        return seen


@contextmanager
def start(cmd: list[str], tmp_path: Path, port: int) -> Iterator[Tree]:
    (tmp_path / "procapp.py").write_text(APP)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield Tree(proc, log, f"http://127.0.0.1:{port}")
    finally:
        # The whole session: workers must not outlive a failed test either.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def drain_on_sigterm(tree: Tree, workers: set[int]) -> None:
    """SIGTERM the parent with a slow request in flight: it completes, all exit with 0."""
    received: list[int] = []

    def slow_request() -> None:
        r = httpx.get(tree.url + "/slow", timeout=20)
        received.append(len(r.content) if r.status_code == 200 else -r.status_code)

    client = threading.Thread(target=slow_request)
    client.start()
    try:
        tree.wait_for(lambda: "slow handler started" in tree.output(), "slow request not seen")
        tree.proc.send_signal(signal.SIGTERM)
        code = tree.proc.wait(20)
    finally:
        client.join(20)
    out = tree.output()
    assert received == [BODY_SIZE], out
    assert code == 0, out
    assert all(gone(pid) for pid in workers), out
    assert "ERROR" not in out and "Traceback" not in out, out


def test_gunicorn_two_workers_answer_and_drain_on_sigterm(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    port = free_port()
    cmd = [
        sys.executable, "-m", "gunicorn", "procapp:app", "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--worker-class", "asgiweb.worker.GunicornWebWorker",
    ]  # fmt: skip
    with start(cmd, tmp_path, port) as tree:
        workers = tree.pids(2)
        drain_on_sigterm(tree, workers)
    assert "Booting worker" in tree.output()


def test_uvicorn_two_workers_answer_and_drain_on_sigterm(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", "procapp:app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "2",
    ]  # fmt: skip
    with start(cmd, tmp_path, port) as tree:
        workers = tree.pids(2)
        drain_on_sigterm(tree, workers)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing")
def test_native_workers_restart_the_dead_and_drain_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    cmd = [
        sys.executable, "-m", "asgiweb.web", "-H", "127.0.0.1", "-P", str(port),
        "--workers", "2", "procapp:app",
    ]  # fmt: skip
    with start(cmd, tmp_path, port) as tree:
        first = tree.pids(2)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        replacement = tree.pids(1, exclude=first)
        assert tree.proc.poll() is None, tree.output()
        out = tree.output()
        assert f"Worker process {victim} exited with code -9; restarting it" in out, out
        survivors = first - {victim} | replacement
        assert survivors <= tree.pids(2), out  # the untouched one still answers too
        drain_on_sigterm(tree, survivors)
    out = tree.output()
    assert out.count("Started worker process") == 3, out
    assert "Stopped" in out, out


def test_native_reload_serves_the_edited_module(tmp_path: Path) -> None:
    pytest.importorskip("watchfiles")
    source = textwrap.dedent(
        """
        from asgiweb import web

        async def text(request: web.Request) -> web.Response:
            return web.Response(text="{}")

        app = web.Application()
        app.router.add_get("/", text)
        """
    )
    (tmp_path / "editme.py").write_text(source.format("v1"))
    port = free_port()
    cmd = [
        sys.executable, "-m", "asgiweb.web", "-H", "127.0.0.1", "-P", str(port),
        "--reload", "editme:app",
    ]  # fmt: skip
    with start(cmd, tmp_path, port) as tree:

        def answers(text: str) -> Callable[[], bool]:
            def check() -> bool:
                r = tree.get("/")
                return r is not None and r.text == text

            return check

        tree.wait_for(answers("v1"), "v1 never answered")
        # As editors save: whole, by a rename (a half-written module must not be loaded).
        (tmp_path / "editme.tmp").write_text(source.format("v2"))
        os.replace(tmp_path / "editme.tmp", tmp_path / "editme.py")
        tree.wait_for(answers("v2"), "the edit was not served", timeout=10)
        tree.proc.send_signal(signal.SIGTERM)
        code = tree.proc.wait(20)
    out = tree.output()
    assert code == 0, out
    assert "Changes detected in" in out and "editme.py" in out, out
    assert "ERROR" not in out and "Traceback" not in out, out
