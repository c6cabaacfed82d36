"""aiohttp's extensions through ``asgiweb.aiohttp_compat``, on the native server and under uvicorn.

``tests/apps/ecosystem_app.py`` uses aiohttp-jinja2, aiohttp-session, aiohttp-cors,
aiohttp-sse, aiohttp-remotes and aiohttp-security as their docs show, importing
``aiohttp.web``. It is served three ways, each in its own process as a user runs it: on
aiohttp itself (the reference), on asgiweb's native server and under uvicorn, both with
the compatibility layer. The same client script runs against each; every answer must
equal aiohttp's, and the key facts are also asserted outright so that a reference that
went wrong cannot pass the test.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import free_port, wait_listening

for _extension in (
    "aiohttp_cors",
    "aiohttp_jinja2",
    "aiohttp_remotes",
    "aiohttp_security",
    "aiohttp_session",
    "aiohttp_sse",
):
    pytest.importorskip(_extension, reason="the `ecosystem` extra is not installed")

ROOT = Path(__file__).resolve().parents[2]
APP = "ecosystem_app"
PATHS = ("aiohttp", "native", "uvicorn")
# Headers whose values differ by server, not by framework.
VOLATILE = {"date", "server", "content-length", "transfer-encoding", "connection", "keep-alive"}


def _command(path: str, port: int) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "apps"), "ECOSYSTEM_BACKEND": "asgiweb"}
    if path == "aiohttp":
        env["ECOSYSTEM_BACKEND"] = "aiohttp"
        return [sys.executable, "-m", APP, str(port)], env
    if path == "native":
        return [sys.executable, "-m", APP, str(port)], env
    # Unchanged module, compatibility layer installed by the runner: `python -m
    # asgiweb.aiohttp_compat -m uvicorn mod:app`, as docs/porting.md shows.
    env["ECOSYSTEM_ASGI"] = "1"
    env["ECOSYSTEM_BACKEND"] = "runner"
    return [
        sys.executable, "-m", "asgiweb.aiohttp_compat", "-m", "uvicorn", f"{APP}:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ], env  # fmt: skip


@contextlib.contextmanager
def serve(path: str) -> Iterator[str]:
    """Run the app in its own process on ``path``; yield its URL.

    At exit the server is stopped with SIGINT, as a user stops it; anything it printed
    that looks like an error fails the test, whatever the client saw.
    """
    port = free_port()
    argv, env = _command(path, port)
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        try:
            wait_listening(port, 20, process)
        except RuntimeError as exc:
            pytest.fail(f"{path} server did not start: {exc}")
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            output = process.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0]
            pytest.fail(f"{path} server did not stop on SIGINT:\n{output}")
    assert "Traceback" not in output and "Error" not in output, output


def _stable(name: str, value: str) -> str:
    """``value`` without what changes from run to run on any server."""
    if name == "access-control-expose-headers":
        return ",".join(sorted(value.split(",")))  # aiohttp-cors joins a set
    if name == "set-cookie":
        return re.sub(r'created\\": \d+', 'created\\": T', value)  # the session's start
    return value


def _answer(send: Callable[[], httpx.Response]) -> dict[str, Any]:
    """The answer to one request as plain data; a transport failure is part of the answer."""
    try:
        response = send()
    except httpx.HTTPError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    headers = sorted(
        (name.lower(), _stable(name.lower(), value))
        for name, value in response.headers.multi_items()
        if name.lower() not in VOLATILE
    )
    return {"status": response.status_code, "headers": headers, "body": response.text}


def exercise(url: str) -> dict[str, Any]:
    """Everything a client sees of the app, as plain data."""
    seen: dict[str, Any] = {}
    with httpx.Client(base_url=url, timeout=10) as client:
        # aiohttp-jinja2: decorator, render_template, class-based view, context processors.
        seen["greet"] = _answer(lambda: client.get("/greet/ann"))
        seen["rendered"] = _answer(lambda: client.get("/rendered"))
        seen["view"] = _answer(lambda: client.get("/view", params={"who": "ünï"}))
        seen["view-post"] = _answer(lambda: client.post("/view"))

        # aiohttp-session: the cookie carries the count; a raised HTTPFound still saves it.
        seen["session-1"] = _answer(lambda: client.get("/session"))
        seen["session-2"] = _answer(lambda: client.get("/session"))
        seen["session-redirect"] = _answer(lambda: client.get("/session/redirect"))
        seen["session-after"] = _answer(lambda: client.get("/session"))
        client.cookies.clear()

        # aiohttp-security on top of the session.
        seen["private-anon"] = _answer(lambda: client.get("/private"))
        seen["whoami-anon"] = _answer(lambda: client.get("/whoami"))
        seen["login-bad"] = _answer(lambda: client.post("/login", data={"user": "mallory"}))
        seen["login"] = _answer(lambda: client.post("/login", data={"user": "alice"}))
        seen["private"] = _answer(lambda: client.get("/private"))
        seen["whoami"] = _answer(lambda: client.get("/whoami"))
        seen["write-denied"] = _answer(lambda: client.get("/write"))
        seen["logout"] = _answer(lambda: client.get("/logout"))
        seen["private-after-logout"] = _answer(lambda: client.get("/private"))
        client.cookies.clear()

        # aiohttp-remotes: X-Forwarded-* trusted (relaxed), a malformed one refused.
        seen["remote"] = _answer(
            lambda: client.get(
                "/remote",
                headers={
                    "X-Forwarded-For": "203.0.113.7",
                    "X-Forwarded-Proto": "https",
                    "X-Forwarded-Host": "public.example",
                },
            )
        )
        seen["remote-bad"] = _answer(
            lambda: client.get("/remote", headers={"X-Forwarded-For": "not an address"})
        )

        # aiohttp-cors: preflight, actual request, an origin that is not allowed.
        seen["cors-preflight"] = _answer(
            lambda: client.options(
                "/api",
                headers={
                    "Origin": "http://allowed.example",
                    "Access-Control-Request-Method": "PUT",
                    "Access-Control-Request-Headers": "X-Token",
                },
            )
        )
        seen["cors-get"] = _answer(
            lambda: client.get("/api", headers={"Origin": "http://allowed.example"})
        )
        seen["cors-denied"] = _answer(
            lambda: client.options(
                "/api",
                headers={
                    "Origin": "http://evil.example",
                    "Access-Control-Request-Method": "PUT",
                },
            )
        )

        # aiohttp-sse: the context-manager helper and the response class with pings.
        seen["sse"] = _answer(lambda: client.get("/events", headers={"Last-Event-Id": "41"}))
        events_class = _answer(lambda: client.get("/events/class"))
        if "body" in events_class:
            # The number of pings depends on timing; that there were pings does not.
            events_class["body"] = re.sub(r"(: ping\n\n)+", ": ping\n\n", events_class["body"])
        seen["sse-class"] = events_class
        seen["sse-post"] = _answer(lambda: client.post("/events"))
    return seen


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """What aiohttp itself answers: the one truth every path is compared with."""
    with serve("aiohttp") as url:
        return exercise(url)


@pytest.fixture(scope="module", params=PATHS[1:])
def seen(request: pytest.FixtureRequest) -> dict[str, Any]:
    """What asgiweb answers through the compatibility layer on one path."""
    with serve(request.param) as url:
        return {**exercise(url), "path": request.param}


# What differs under an ASGI server, each listed in docs/differences.md: the server adds
# Date and Server after on_response_prepare, so aiohttp-cors cannot expose them.
ASGI_DIFFERENCES = {
    "cors-get": lambda answer: {
        **answer,
        "headers": [
            (name, "Content-Length,Date,Server,X-Extra")
            if name == "access-control-expose-headers" and value == "Content-Length,X-Extra"
            else (name, value)
            for name, value in answer["headers"]
        ],
    },
}


def test_every_answer_is_aiohttps(reference: dict[str, Any], seen: dict[str, Any]) -> None:
    path = seen["path"]
    differing: dict[str, Any] = {}
    for check, expected in reference.items():
        got = seen[check]
        if path != "native" and check in ASGI_DIFFERENCES and "headers" in got:
            got = ASGI_DIFFERENCES[check](got)
        if "headers" in got:
            got = {**got, "headers": [list(item) for item in got["headers"]]}
            expected = {**expected, "headers": [list(item) for item in expected["headers"]]}
        if got != expected:
            differing[check] = {"aiohttp": expected, path: got}
    assert not differing, differing


def _header(answer: dict[str, Any], name: str) -> str | None:
    values = [value for key, value in answer["headers"] if key == name]
    return values[0] if values else None


def test_extensions_do_their_job(seen: dict[str, Any]) -> None:
    """The facts themselves, so that a reference gone wrong cannot hide a failure."""
    assert seen["greet"]["body"] == "<p>Hello, ann! /greet/x%20y</p>"
    assert seen["rendered"]["status"] == 201
    assert seen["view"]["body"] == "<p>GET ünï ecosystem</p>"
    assert seen["view-post"]["status"] == 405

    assert seen["session-2"]["body"] == '{"n": 2, "new": false}'
    # aiohttp-session saved the session into the raised HTTPFound.
    assert '\\"n\\": 102' in (_header(seen["session-redirect"], "set-cookie") or "")
    assert seen["session-after"]["body"] == '{"n": 103, "new": false}'

    assert seen["private-anon"]["status"] == 401
    assert seen["login-bad"]["status"] == 403
    assert seen["private"] == {**seen["private"], "status": 200, "body": "hello alice"}
    assert seen["write-denied"]["status"] == 403
    assert seen["logout"]["status"] == 200
    assert seen["private-after-logout"]["status"] == 401

    assert seen["remote"]["body"] == (
        '{"remote": "203.0.113.7", "host": "public.example", "scheme": "https"}'
    )
    assert seen["remote-bad"]["status"] == 400

    preflight = seen["cors-preflight"]
    assert _header(preflight, "access-control-allow-origin") == "http://allowed.example"
    assert _header(preflight, "access-control-allow-methods") == "PUT"
    assert seen["cors-denied"]["status"] == 403

    assert seen["sse"]["body"].startswith("id: 0\r\nevent: tick\r\ndata: tick 0\r\n")
    assert seen["sse"]["body"].endswith("data: last=41\r\nretry: 500\r\n\r\n")
    assert _header(seen["sse"], "content-type") == "text/event-stream"
    assert seen["sse-class"]["body"] == ": ping\n\ndata: done\n\n"
    assert seen["sse-post"]["status"] == 405
