"""The contenders and endpoints, and how to start, probe, measure and stop a contender.

Shared by the driver (``run.py``) and ``tests/test_benchmarks_smoke.py``, so a contender
that no longer starts or answers wrongly fails the test suite, not the next benchmark.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from .apps.common import ECHO_SIZE, JSON_BODY, PLAINTEXT, WS_MESSAGE, file_bytes
from .ws_load import echo_once

__all__ = [
    "BASELINE",
    "CONTENDERS",
    "LOOPS",
    "ENDPOINTS",
    "HOST",
    "Contender",
    "Endpoint",
    "RunningServer",
    "baseline",
    "probe",
    "running",
    "start",
]

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = "0"  # the core every contender is pinned to; wrk gets the other one
_UVICORN = "--http httptools --loop {loop} --no-access-log --log-level warning"
#: Every contender runs once on each: asyncio's own loop and uvloop.
LOOPS = ("asyncio", "uvloop")


@dataclass(frozen=True)
class Contender:
    """One framework on one server and event loop: ``python <args>``, with ``{port}`` filled
    in; ``name`` is ``<family>-<loop>``, say ``asgiweb-native-uvloop``."""

    family: str  # framework and server, the same on every loop: "asgiweb-native"
    label: str
    args: str
    needs: tuple[str, ...] = ()  # modules that must be importable
    loop: str = "asyncio"

    @property
    def name(self) -> str:
        return f"{self.family}-{self.loop}"

    def argv(self, port: int | str) -> list[str]:
        args = self.args.replace("{port}", str(port)).replace("{loop}", self.loop)
        return [sys.executable, *shlex.split(args)]

    def available(self) -> bool:
        return all(importlib.util.find_spec(module) is not None for module in self.needs)


# One per family; ``{loop}`` in the arguments is the event loop's name in each server's
# own option, which is "asyncio" or "uvloop" everywhere.
_FAMILIES: tuple[Contender, ...] = (
    Contender(
        "asgiweb-native",
        "asgiweb native",
        f"-m benchmarks.apps.asgiweb_app --host {HOST} --port {{port}} --loop {{loop}}",
    ),
    Contender(
        "asgiweb-uvicorn",
        "asgiweb + uvicorn",
        f"-m uvicorn benchmarks.apps.asgiweb_app:app --host {HOST} --port {{port}} {_UVICORN}",
        needs=("uvicorn",),
    ),
    Contender(
        "asgiweb-hypercorn",
        "asgiweb + hypercorn",
        # --workers 0 serves in this process, like the others; the default (1) spawns a
        # worker behind an idle supervisor, which would only add a process to measure.
        f"-m hypercorn benchmarks.apps.asgiweb_app:app --bind {HOST}:{{port}} --workers 0 "
        "--worker-class {loop} --log-level warning",
        needs=("hypercorn",),
    ),
    Contender(
        "aiohttp-native",
        "aiohttp native",
        f"-m benchmarks.apps.aiohttp_app --host {HOST} --port {{port}} --loop {{loop}}",
        needs=("aiohttp",),
    ),
    Contender(
        "starlette-uvicorn",
        "Starlette + uvicorn",
        f"-m uvicorn benchmarks.apps.starlette_app:app --host {HOST} --port {{port}} {_UVICORN}",
        needs=("starlette", "uvicorn"),
    ),
    Contender(
        "starlette-hypercorn",
        "Starlette + hypercorn",
        f"-m hypercorn benchmarks.apps.starlette_app:app --bind {HOST}:{{port}} --workers 0 "
        "--worker-class {loop} --log-level warning",
        needs=("starlette", "hypercorn"),
    ),
    # What the ASGI server alone costs: a bare application (apps/floor_app.py) that no
    # framework under the same server can beat.
    Contender(
        "floor-uvicorn",
        "bare ASGI + uvicorn",
        f"-m uvicorn benchmarks.apps.floor_app:app --host {HOST} --port {{port}} {_UVICORN}",
        needs=("uvicorn",),
    ),
    Contender(
        "floor-hypercorn",
        "bare ASGI + hypercorn",
        f"-m hypercorn benchmarks.apps.floor_app:app --bind {HOST}:{{port}} --workers 0 "
        "--worker-class {loop} --log-level warning",
        needs=("hypercorn",),
    ),
)
CONTENDERS: tuple[Contender, ...] = tuple(
    replace(family, loop=loop, needs=family.needs + (("uvloop",) if loop == "uvloop" else ()))
    for loop in LOOPS
    for family in _FAMILIES
)
#: The family every ratio is to, on the same loop: a uvloop row is never compared with an
#: asyncio baseline.
BASELINE = "aiohttp-native"


def baseline(loop: str) -> str:
    """The name of the contender the ratios of ``loop``'s contenders are to."""
    return f"{BASELINE}-{loop}"


@dataclass(frozen=True)
class Endpoint:
    """A request to benchmark and the one right answer to it.

    A ``websocket`` endpoint is measured in echoed messages, not requests: its request is
    the opening handshake (answered 101), then ``body`` as a text message, echoed back.
    """

    name: str
    method: str
    path: str
    content_type: str
    body: bytes = b""
    json: object = None  # compared parsed, since JSON spacing differs between frameworks
    request_size: int = 0
    websocket: bool = False

    @property
    def unit(self) -> str:
        """What one operation is, for "per second" and "CPU per" columns."""
        return "msg" if self.websocket else "req"

    @property
    def title(self) -> str:
        if self.websocket:
            return f"WebSocket `{self.path}`, {len(self.body)}-byte text echo"
        return f"`{self.method} {self.path}`"

    def request_body(self) -> bytes:
        return b"x" * self.request_size

    def check(self, status: int, content_type: str, body: bytes) -> str | None:
        """What is wrong with a response, or None if it is the expected one."""
        if status != (101 if self.websocket else 200):
            return f"status {status}, body {body[:200]!r}"
        if not content_type.startswith(self.content_type):
            return f"content type {content_type!r}, expected {self.content_type!r}"
        if self.json is not None:
            try:
                parsed = json.loads(body)
            except ValueError:
                return f"not JSON: {body[:200]!r}"
            return None if parsed == self.json else f"JSON {parsed!r}, expected {self.json!r}"
        if body != self.body:
            return f"{len(body)}-byte body {body[:60]!r}, expected {len(self.body)} bytes"
        return None


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("plaintext", "GET", "/plaintext", "text/plain", body=PLAINTEXT.encode()),
    Endpoint("json", "GET", "/json", "application/json", json=JSON_BODY),
    Endpoint(
        "params", "GET", "/users/42/posts/7", "application/json", json={"id": "42", "post": "7"}
    ),
    Endpoint(
        "echo", "POST", "/echo", "text/plain", body=str(ECHO_SIZE).encode(), request_size=ECHO_SIZE
    ),
    Endpoint("file", "GET", "/file", "application/octet-stream", body=file_bytes()),
    # The content type is that of the echoed frame: "text" for a text frame (see probe).
    Endpoint("ws", "GET", "/ws", "text", body=WS_MESSAGE.encode(), websocket=True),
)


def probe(port: int, endpoint: Endpoint, timeout: float = 10.0) -> tuple[int, str, bytes]:
    """Send ``endpoint``'s request once: ``(status, content type, body)``.

    For a WebSocket endpoint: the handshake's status, the echo's frame type ("text",
    "binary", or its first byte when odd, say compressed) and the echoed payload.
    """
    if endpoint.websocket:
        status, first, payload = echo_once(
            HOST, port, endpoint.path, endpoint.body, timeout=timeout
        )
        kind = {0x1: "text", 0x2: "binary"}.get(first, f"frame {first:#04x}")
        return status, kind, payload
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        body = endpoint.request_body() if endpoint.method == "POST" else None
        conn.request(endpoint.method, endpoint.path, body=body)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


# -- processes ------------------------------------------------------------------------------
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    # Fields after "(comm)", which may itself hold spaces; index 0 is field 3 (state).
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants, so a server that forks is measured whole."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):  # exited meanwhile
                children.setdefault(int(_stat_fields(int(entry))[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    """A contender process listening on ``port``."""

    contender: Contender
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes] = field(repr=False)
    _final_output: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu_seconds(self) -> float:
        """User plus system CPU time used so far by the server's processes."""
        ticks = 0
        for pid in _process_tree(self.process.pid):
            with contextlib.suppress(OSError):
                fields = _stat_fields(pid)
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / _CLK_TCK

    def peak_rss_kib(self) -> int:
        """VmHWM summed over the server's processes: the peak since start or the last reset."""
        return self._status_kib("VmHWM:")

    def rss_kib(self) -> int:
        """VmRSS summed over the server's processes: resident memory now."""
        return self._status_kib("VmRSS:")

    def _status_kib(self, key: str) -> int:
        total = 0
        for pid in _process_tree(self.process.pid):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith(key):
                        total += int(line.split()[1])
        return total

    def reset_peak_rss(self) -> bool:
        """Restart VmHWM from the current RSS (Linux >= 4.0); False if not allowed."""
        try:
            for pid in _process_tree(self.process.pid):
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def output(self) -> str:
        """What the server printed so far (stdout and stderr)."""
        if self._final_output is not None:  # stopped: the log file is gone
            return self._final_output
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def wait_ready(self, timeout: float) -> None:
        """Block until ``GET /plaintext`` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.contender.name} exited with {self.process.returncode}:\n"
                    + self.output()[-3000:]
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                if probe(self.port, ENDPOINTS[0], timeout=1.0)[0] == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.contender.name} did not answer within {timeout:.0f} s:\n"
            + self.output()[-3000:]
        )

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (a graceful stop on every contender), SIGKILL if that takes too long."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._final_output is None:
            self._final_output = self.output()
            self.log.close()
        return self.process.returncode


def start(
    contender: Contender, *, cpu: str | None = SERVER_CPU, timeout: float = 30.0
) -> RunningServer:
    """Start ``contender`` on a free port, pinned to ``cpu``, and wait until it answers."""
    port = _free_port()
    argv = contender.argv(port)
    if cpu is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", cpu, *argv]  # taskset execs: the pid stays the server's
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stop() reaches any children
    )
    server = RunningServer(contender, port, process, log)
    try:
        server.wait_ready(timeout)
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def running(contender: Contender, *, cpu: str | None = SERVER_CPU) -> Iterator[RunningServer]:
    """``start`` as a context manager that always stops the server."""
    server = start(contender, cpu=cpu)
    try:
        yield server
    finally:
        server.stop()
