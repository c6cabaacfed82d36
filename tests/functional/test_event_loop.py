"""Which event loop run_app and ``python -m asgiweb.web`` serve on (docs/deployment.md).

uvloop when it is installed and the program chose nothing; asyncio when ``ASGIWEB_LOOP``,
``--loop``, an event loop policy or a loop passed in says so. Each case runs a real
process whose handler (or worker startup) reports ``type(asyncio.get_running_loop())``;
each serving process must then stop with status 0 on SIGTERM, on either loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from servers import free_port

uvloop = pytest.importorskip("uvloop")

ROOT = Path(__file__).resolve().parents[2]


def name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


UVLOOP = name(uvloop.Loop)
ASYNCIO = name(asyncio.SelectorEventLoop)
NO_UVLOOP = "import sys\nsys.modules['uvloop'] = None  # as if uvloop were not installed\n"

SERVER = """
import asyncio
import logging
import sys

from asgiweb import web

logging.basicConfig(level=logging.DEBUG)


async def loop_type(request: web.Request) -> web.Response:
    cls = type(asyncio.get_running_loop())
    return web.Response(text=f"{cls.__module__}.{cls.__qualname__}")


class MyLoop(asyncio.SelectorEventLoop):
    pass


app = web.Application()
app.router.add_get("/loop", loop_type)
kwargs = {}
"""

CLI_APP = """
import asyncio
import os
from pathlib import Path

from asgiweb import web


async def record(app: web.Application) -> None:
    cls = type(asyncio.get_running_loop())
    report = Path(app[REPORTS]) / f"{os.getpid()}.txt"
    report.write_text(f"{cls.__module__}.{cls.__qualname__}")


REPORTS = web.AppKey("reports", str)


def init(argv: list[str]) -> web.Application:
    app = web.Application()
    app[REPORTS] = argv[0]
    app.on_startup.append(record)
    return app
"""


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ASGIWEB_LOOP"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, **extra}


def start(args: list[str], tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=tmp_path, env=environ(**env),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return proc, log


def stop(proc: subprocess.Popen[bytes], log: Path) -> str:
    """SIGTERM, then the exit status must be 0; return the log."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError(f"no exit on SIGTERM; log:\n{log.read_text()}") from None
    assert code == 0, log.read_text()
    return log.read_text()


def wait_for_loop(proc: subprocess.Popen[bytes], log: Path, url: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited early; log:\n{log.read_text()}"
        try:
            return httpx.get(url, timeout=5).text
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"never answered; log:\n{log.read_text()}")


def serve_and_report(tmp_path: Path, setup: str, run: str = "", **env: str) -> tuple[str, str]:
    """Run SERVER + ``setup``, then run_app; return (the loop type it reports, its log)."""
    port = free_port()
    script = tmp_path / "server.py"
    run_app = f"web.run_app(app, host='127.0.0.1', port={port}, **kwargs)\n"
    script.write_text(SERVER + textwrap.dedent(setup) + (run or run_app))
    proc, log = start([str(script)], tmp_path, **env)
    try:
        loop = wait_for_loop(proc, log, f"http://127.0.0.1:{port}/loop")
    finally:
        output = stop(proc, log)
    return loop, output


def test_run_app_runs_on_uvloop_by_default_and_logs_it_once(tmp_path: Path) -> None:
    loop, output = serve_and_report(tmp_path, "")
    assert loop == UVLOOP, output
    assert output.count("Event loop: ") == 1, output
    assert f"Event loop: {UVLOOP} (ASGIWEB_LOOP='auto')" in output, output


def test_asgiweb_loop_asyncio_keeps_asyncio(tmp_path: Path) -> None:
    loop, output = serve_and_report(tmp_path, "", ASGIWEB_LOOP="asyncio")
    assert loop == ASYNCIO, output


def test_a_default_policy_subclass_set_by_the_program_wins(tmp_path: Path) -> None:
    setup = """
    class Policy(asyncio.DefaultEventLoopPolicy):
        pass

    asyncio.set_event_loop_policy(Policy())
    """
    loop, output = serve_and_report(tmp_path, setup)
    assert loop == ASYNCIO, output


def test_a_custom_policy_makes_the_loop(tmp_path: Path) -> None:
    setup = """
    class Policy(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            return MyLoop()

    asyncio.set_event_loop_policy(Policy())
    """
    loop, output = serve_and_report(tmp_path, setup)
    assert loop == "__main__.MyLoop", output


def test_a_loop_passed_in_is_used(tmp_path: Path) -> None:
    loop, output = serve_and_report(tmp_path, "kwargs['loop'] = MyLoop()\n")
    assert loop == "__main__.MyLoop", output
    assert "Event loop: " not in output, output  # the caller chose: nothing to tell


def test_without_uvloop_auto_falls_back_to_asyncio(tmp_path: Path) -> None:
    loop, output = serve_and_report(tmp_path, NO_UVLOOP)
    assert loop == ASYNCIO, output


def test_asgiweb_loop_uvloop_without_uvloop_names_the_extra(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(NO_UVLOOP + SERVER + "web.run_app(app, host='127.0.0.1', port=0)\n")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=environ(ASGIWEB_LOOP="uvloop"),
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    expected = "RuntimeError: uvloop is not installed: pip install 'asgiweb[uvloop]'"
    assert expected in result.stderr, result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing")
@pytest.mark.parametrize(
    "choice, expected", [("asyncio", ASYNCIO), ("uvloop", UVLOOP)], ids=["asyncio", "uvloop"]
)
def test_cli_loop_reaches_every_worker(tmp_path: Path, choice: str, expected: str) -> None:
    (tmp_path / "cliapp.py").write_text(CLI_APP)
    reports = tmp_path / "reports"
    reports.mkdir()
    args = [
        "-m", "asgiweb.web", "-H", "127.0.0.1", "-P", str(free_port()),
        "--workers", "2", "--loop", choice, "cliapp:init", str(reports),
    ]  # fmt: skip
    # The environment asks for the other loop: the command line option wins.
    other = "uvloop" if choice == "asyncio" else "asyncio"
    proc, log = start(args, tmp_path, ASGIWEB_LOOP=other)
    try:
        deadline = time.monotonic() + 30
        while len(list(reports.iterdir())) < 2:
            assert proc.poll() is None, f"exited early; log:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"workers did not start; log:\n{log.read_text()}"
            time.sleep(0.05)
    finally:
        output = stop(proc, log)
    loops = sorted(report.read_text() for report in reports.iterdir())
    assert loops == [expected, expected], output
    assert output.count("Event loop: ") == 2, output  # once per worker
    assert output.count(f"Event loop: {expected} ({choice})") == 2, output


def test_cli_loop_uvloop_without_uvloop_is_a_usage_error(tmp_path: Path) -> None:
    code = NO_UVLOOP + textwrap.dedent(
        """
        import runpy
        sys.argv = ["asgiweb.web", "--loop", "uvloop", "--workers", "2", "-P", "1", "x:app"]
        runpy.run_module("asgiweb.web", run_name="__main__")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=environ(),
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    expected = "--loop uvloop: uvloop is not installed: pip install 'asgiweb[uvloop]'"
    assert expected in result.stderr, result.stderr
