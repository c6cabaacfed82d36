"""Load and faults, on the native server and under uvicorn, each in its own process.

- 200 concurrent keep-alive clients: no errors, and the server's RSS and open file
  descriptors stay bounded and come back down (3 seconds in CI; the 30-second soak is
  marked ``soak`` and runs with ``pytest --run-long``, see docs/reliability.md).
- Clients that vanish mid-request and mid-response, handlers that raise or never return:
  the server keeps answering everybody else, and logs only the handler failures.
- SIGTERM while requests are in flight: every one of them completes, then the process
  exits.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from servers import free_port, wait_listening

aiohttp = pytest.importorskip("aiohttp")

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "apps"
CLIENTS = 200


@dataclass
class Server:
    path: str
    port: int
    process: subprocess.Popen[str]
    output: str = ""
    samples: list[tuple[int, int]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def usage(self) -> tuple[int, int]:
        """(RSS in KiB, open file descriptors) of the server process now."""
        pid = self.process.pid
        rss = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds

    def stop(self, sig: int | None = signal.SIGINT, timeout: float = 20) -> int:
        """Send ``sig`` (None: none, the process is stopping already) and wait for the exit."""
        if sig is not None and self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.output += self.process.communicate(timeout=timeout)[0]
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.output += self.process.communicate()[0]
            pytest.fail(f"{self.path} server did not stop on signal {sig}:\n{self.output}")
        return self.process.returncode


@pytest.fixture(params=["native", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(APPS)}
    if request.param == "native":
        argv = [sys.executable, str(APPS / "load_app.py"), str(port)]
    else:
        argv = [
            sys.executable, "-m", "uvicorn", "load_app:app", "--port", str(port),
            "--log-level", "warning", "--timeout-graceful-shutdown", "3",
        ]  # fmt: skip
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_listening(port, 20, process)
    except RuntimeError as exc:
        process.kill()
        pytest.fail(f"{request.param} server did not start: {exc}")
    running = Server(request.param, port, process)
    yield running
    running.stop()


_PLANNED_FAILURE = re.compile(
    r"Error handling request from [^\n]*\nTraceback.*?"
    r"RuntimeError: a handler that fails on purpose\n",
    re.DOTALL,
)


# uvicorn cancels a handler still running when its graceful shutdown times out, and logs
# it: /hang's handlers, which never return.
_HANG_CANCELLED = re.compile(
    r"ERROR: +Exception in ASGI application\nTraceback.*?in hang\n.*?"
    r"CancelledError: Task cancelled, timeout graceful shutdown exceeded\n",
    re.DOTALL,
)


def _errors(output: str) -> list[str]:
    """Error lines a server printed, apart from the tracebacks of planned failures."""
    rest = _HANG_CANCELLED.sub("", _PLANNED_FAILURE.sub("", output))
    return [
        line
        for line in rest.splitlines()
        if "Error" in line or "Traceback" in line or "Exception" in line
    ]


async def _load(url: str, seconds: float, clients: int) -> tuple[int, list[str]]:
    done = 0
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client(n: int) -> None:
            nonlocal done
            body = os.urandom(1024 + n)
            i = 0
            while time.monotonic() < deadline:
                i += 1
                try:
                    if i % 4 == 0:
                        async with session.post(url + "/echo", data=body) as response:
                            ok = response.status == 200 and await response.read() == body
                    else:
                        async with session.get(url + "/fast") as response:
                            ok = response.status == 200 and await response.text() == "fast"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                if ok:
                    done += 1
                else:
                    errors.append(f"bad answer {response.status}")

        await asyncio.gather(*(client(n) for n in range(clients)))
    return done, errors


@pytest.mark.parametrize(
    "seconds", [3.0, pytest.param(30.0, marks=pytest.mark.soak, id="soak")], ids=str
)
def test_concurrent_keep_alive_clients(server: Server, seconds: float) -> None:
    before = server.usage()

    async def run() -> tuple[int, list[str]]:
        sampler_stop = asyncio.Event()

        async def sample() -> None:
            while not sampler_stop.is_set():
                server.samples.append(server.usage())
                await asyncio.sleep(0.2)

        sampling = asyncio.create_task(sample())
        try:
            return await _load(server.url, seconds, CLIENTS)
        finally:
            sampler_stop.set()
            await sampling

    done, errors = asyncio.run(run())
    time.sleep(0.5)  # the server closes the connections the client pool left
    after = server.usage()
    peak_rss = max(rss for rss, _ in server.samples)
    peak_fds = max(fds for _, fds in server.samples)
    print(
        f"\n{server.path}: {done} requests in {seconds:.0f} s by {CLIENTS} clients, "
        f"{len(errors)} errors; RSS {before[0] // 1024} -> peak {peak_rss // 1024} -> "
        f"{after[0] // 1024} MiB; fds {before[1]} -> peak {peak_fds} -> {after[1]}"
    )
    assert not errors, errors[:10]
    assert done > CLIENTS * 2
    # Bounded: 200 connections cost well under 64 MiB, and none of them leaks an fd.
    assert peak_rss - before[0] < 64 * 1024
    assert peak_fds <= before[1] + CLIENTS + 16
    assert after[1] <= before[1] + 4
    assert server.stop() == 0
    assert not _errors(server.output), server.output[-4000:]


def _vanish_mid_request(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"z" * 5000
        )


def _vanish_mid_response(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /stream?n=2000 HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(4096)
        # Close with unread data: the kernel answers the server's next write with RST.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def test_vanishing_clients_and_failing_handlers(server: Server) -> None:
    import httpx

    before = server.usage()
    hanging = []
    for _ in range(5):  # handlers that never return, their clients gone after a while
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        hanging.append(sock)
    for _ in range(30):
        _vanish_mid_request(server.port)
        _vanish_mid_response(server.port)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        failed = [client.get("/fail").status_code for _ in range(3)]
        assert failed == [500, 500, 500]
        assert client.get("/fast").text == "fast"
        assert client.post("/echo", content=b"after").content == b"after"
    for sock in hanging:
        sock.close()
    time.sleep(0.5)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/fast").text == "fast"
    after = server.usage()
    # Every vanished connection was closed on the server's side too.
    assert after[1] <= before[1] + 6, (before, after)
    server.stop()
    assert len(_PLANNED_FAILURE.findall(server.output)) == 3, server.output[-4000:]
    assert not _errors(server.output), server.output[-4000:]


def test_sigterm_lets_in_flight_requests_finish(server: Server) -> None:
    async def run() -> list[tuple[int, str]]:
        async with aiohttp.ClientSession() as session:

            async def one() -> tuple[int, str]:
                async with session.get(server.url + "/slow?t=1") as response:
                    return response.status, await response.text()

            tasks = [asyncio.create_task(one()) for _ in range(20)]
            await asyncio.sleep(0.4)  # all twenty are in their handlers now
            server.process.send_signal(signal.SIGTERM)
            return await asyncio.gather(*tasks)

    started = time.monotonic()
    answers = asyncio.run(run())
    assert answers == [(200, "slow done")] * 20
    code = server.stop(None)
    assert time.monotonic() - started < 10
    # uvicorn re-raises the signal once it has shut down, so that a supervisor sees it.
    assert code == (0 if server.path == "native" else -signal.SIGTERM), server.output
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    assert not _errors(server.output), server.output[-4000:]
