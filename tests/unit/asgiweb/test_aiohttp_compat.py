"""asgiweb.aiohttp_compat: what it maps, what it refuses, and that aiohttp's client survives.

install() changes a process for good, so each case runs in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")

ROOT = Path(__file__).resolve().parents[3]


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_server_modules_resolve_to_asgiweb() -> None:
    result = run(
        """
        import asgiweb.aiohttp_compat as compat
        compat.install()
        compat.install()  # idempotent
        import aiohttp.abc
        from aiohttp import web
        from aiohttp.web_exceptions import HTTPFound
        from aiohttp.web_request import Request
        from aiohttp.web_response import Response, json_response
        from aiohttp.web_urldispatcher import ResourceRoute, UrlDispatcher
        from aiohttp.web_ws import WebSocketResponse
        from aiohttp.helpers import AppKey
        import asgiweb.abc, asgiweb.web as ours

        assert web is ours
        assert (HTTPFound, Request, Response, json_response) == (
            ours.HTTPFound, ours.Request, ours.Response, ours.json_response)
        assert (ResourceRoute, UrlDispatcher, WebSocketResponse) == (
            ours.ResourceRoute, ours.UrlDispatcher, ours.WebSocketResponse)
        assert aiohttp.abc.AbstractView is asgiweb.abc.AbstractView
        assert aiohttp.abc.AbstractRouter is asgiweb.abc.AbstractRouter
        assert AppKey is ours.AppKey
        assert compat.installed()
        import aiohttp.web_protocol
        try:
            aiohttp.web_protocol.RequestHandler
        except AttributeError as exc:
            assert "asgiweb has no counterpart" in str(exc), exc
        else:
            raise AssertionError("RequestHandler should not resolve")
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_an_aiohttp_app_keeps_its_import_and_runs_on_asgiweb() -> None:
    """`from aiohttp import web` code, unchanged, served natively; aiohttp's client asks."""
    result = run(
        """
        import asyncio, warnings
        warnings.simplefilter("error")
        import asgiweb.aiohttp_compat
        asgiweb.aiohttp_compat.install()
        import aiohttp
        from aiohttp import web

        KEY = web.AppKey("KEY", str)

        async def hello(request: web.Request) -> web.Response:
            return web.Response(text=request.app[KEY] + type(request).__module__)

        async def main() -> None:
            app = web.Application()
            app[KEY] = "from "  # an AppKey: no NotAppKeyWarning
            app.router.add_get("/", hello)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{site.port}/") as response:
                    print(response.status, await response.text())
            await runner.cleanup()

        asyncio.run(main())
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "200 from asgiweb.request"


def test_installing_after_aiohttp_web_was_imported_is_refused() -> None:
    result = run(
        """
        import aiohttp.web
        import asgiweb.aiohttp_compat as compat
        try:
            compat.install()
        except compat.CompatError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "aiohttp.web" in result.stdout
    assert "was imported before asgiweb.aiohttp_compat.install()" in result.stdout


def test_without_aiohttp_it_says_what_to_install() -> None:
    result = run(
        """
        import sys
        sys.modules["aiohttp"] = None  # as if it were not installed
        import asgiweb.aiohttp_compat as compat
        try:
            compat.install()
        except compat.CompatError as exc:
            print(exc)
        assert not compat.installed()
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install aiohttp" in result.stdout


def test_runner_installs_before_the_program_runs(tmp_path: Path) -> None:
    script = tmp_path / "program.py"
    script.write_text("import sys\nfrom aiohttp import web\nprint(web.__name__, sys.argv[1:])\n")
    result = subprocess.run(
        [sys.executable, "-m", "asgiweb.aiohttp_compat", str(script), "--flag"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "asgiweb.web ['--flag']"
    usage = subprocess.run(
        [sys.executable, "-m", "asgiweb.aiohttp_compat"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert usage.returncode == 2
    assert "usage: python -m asgiweb.aiohttp_compat" in usage.stderr


def test_aiohttps_own_app_key_is_a_typed_key_without_the_layer() -> None:
    import warnings

    from aiohttp.helpers import AppKey as AiohttpAppKey

    from asgiweb import web

    app = web.Application()
    key = AiohttpAppKey("key", int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app[key] = 1
    assert app[key] == 1
    with pytest.warns(web.NotAppKeyWarning):
        app["plain"] = 2


def test_aiohttps_cli_is_asgiwebs_under_the_runner() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "asgiweb.aiohttp_compat", "-m", "aiohttp.web", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Serve an asgiweb Application on the native server" in result.stdout
    assert "Warning" not in result.stderr


def test_gunicorn_through_the_runner_serves_an_unchanged_aiohttp_app(tmp_path: Path) -> None:
    import socket
    import time
    import urllib.request

    pytest.importorskip("gunicorn")
    (tmp_path / "legacy.py").write_text(
        "from aiohttp import web\n"
        "async def hello(request):\n"
        "    return web.Response(text='on ' + type(request).__module__)\n"
        "app = web.Application()\n"
        "app.router.add_get('/', hello)\n"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asgiweb.aiohttp_compat",
            "-m",
            "gunicorn",
            "legacy:app",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "asgiweb.worker.GunicornWebWorker",
        ],  # fmt: skip
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                    assert answer.read() == b"on asgiweb.request"
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert "Traceback" not in output, output
