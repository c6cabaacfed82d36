"""asgiweb.pytest_plugin driven by pytester: aiohttp-style test files run on every path.

Each check is one pytest subprocess running a small test suite, so that pytest-asyncio and
the plugin are configured exactly as in a user's run.
"""

from __future__ import annotations

import os

import pytest

from asgiweb.test_utils import PATHS

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers -p no:cacheprovider
filterwarnings =
    error
    # In-process runs import the plugin once for all of them; it has no asserts to rewrite.
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
timeout = 30
"""

# A test file as written for pytest-aiohttp, with only the `web` import changed.
PORTED = """
import pytest

from asgiweb import web

{marker}

events_key = web.AppKey("events", list)
hits_key = web.AppKey("hits", list)


async def hello(request):
    return web.Response(text="Hello, world")


async def echo_json(request):
    return web.json_response({{"got": await request.json(), "path": request.path}})


async def login(request):
    form = await request.post()
    resp = web.Response(text="welcome " + form["user"])
    resp.set_cookie("session", form["user"])
    return resp


async def whoami(request):
    return web.Response(text=request.cookies.get("session", "nobody"))


async def ws_echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == web.WSMsgType.TEXT:
            await ws.send_str("echo:" + msg.data)
        elif msg.type == web.WSMsgType.BINARY:
            await ws.send_bytes(msg.data[::-1])
    return ws


async def count(request):
    request.app[hits_key].append(request.path)
    return web.json_response({{"hits": len(request.app[hits_key])}})


async def on_startup(app):
    app[events_key].append("startup")


async def on_shutdown(app):
    app[events_key].append("shutdown")


def create_app():
    app = web.Application()
    app[events_key] = []
    app[hits_key] = []
    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.router.add_get("/", hello)
    app.router.add_post("/json", echo_json)
    app.router.add_post("/login", login)
    app.router.add_get("/whoami", whoami)
    app.router.add_get("/ws", ws_echo)
    app.router.add_get("/count", count)
    return app


async def test_hello(aiohttp_client):
    client = await aiohttp_client(create_app())
    resp = await client.get("/")
    assert resp.status == 200
    assert "Hello" in await resp.text()


async def test_json(aiohttp_client):
    client = await aiohttp_client(create_app())
    resp = await client.post("/json", json={{"a": [1, 2]}})
    assert resp.status == 200
    assert await resp.json() == {{"got": {{"a": [1, 2]}}, "path": "/json"}}


async def test_post_form_and_cookies(aiohttp_client):
    client = await aiohttp_client(create_app())
    assert await (await client.get("/whoami")).text() == "nobody"
    resp = await client.post("/login", data={{"user": "alice"}})
    assert await resp.text() == "welcome alice"
    assert resp.cookies["session"].value == "alice"
    assert await (await client.get("/whoami")).text() == "alice"


async def test_websocket_echo(aiohttp_client):
    client = await aiohttp_client(create_app())
    ws = await client.ws_connect("/ws")
    await ws.send_str("hi")
    assert await ws.receive_str() == "echo:hi"
    await ws.send_bytes(b"abc")
    assert await ws.receive_bytes() == b"cba"
    await ws.close()


async def test_app_state(aiohttp_client):
    client = await aiohttp_client(create_app())
    for expected in (1, 2):
        assert await (await client.get("/count")).json() == {{"hits": expected}}
    assert client.app[hits_key] == ["/count", "/count"]


async def test_startup_and_shutdown(aiohttp_client):
    app = create_app()
    client = await aiohttp_client(app)
    assert app[events_key] == ["startup"]
    await client.close()
    assert app[events_key] == ["startup", "shutdown"]


async def test_server_on_the_path(aiohttp_server, aiohttp_client, aiohttp_unused_port,
                                  asgiweb_path):
    port = aiohttp_unused_port()
    server = await aiohttp_server(create_app(), port=port)
    assert server.port == port
    expected = "TestServer" if asgiweb_path == "native" else "ASGITestServer"
    assert type(server).__name__ == expected
    client = await aiohttp_client(server)
    assert (await client.get("/")).status == 200


async def test_raw_server(aiohttp_raw_server, aiohttp_client):
    async def handler(request):
        return web.Response(text="raw " + request.path)

    client = await aiohttp_client(await aiohttp_raw_server(handler))
    assert await (await client.get("/x")).text() == "raw /x"
"""
PORTED_TESTS = 8

FAILURES = """
import pytest

from asgiweb import web


async def ok(request):
    return web.Response(text="ok")


async def boom(request):
    raise RuntimeError("kaboom-4711")


def create_app():
    app = web.Application()
    app.router.add_get("/", ok)
    app.router.add_get("/boom", boom)
    return app


async def test_wrong_status(aiohttp_client):
    client = await aiohttp_client(create_app())
    resp = await client.get("/")
    assert resp.status == 201


async def test_handler_raises(aiohttp_client):
    client = await aiohttp_client(create_app())
    resp = await client.get("/boom")
    # The client sees a 500: the plugin must fail the test anyway.
    assert resp.status == 500


@pytest.mark.asgiweb_server_errors("allow")
async def test_handler_raises_allowed(aiohttp_client):
    client = await aiohttp_client(create_app())
    assert (await client.get("/boom")).status == 500


@pytest.mark.asgiweb_path("uvicorn", "native")
async def test_marker_paths(aiohttp_client, asgiweb_path):
    assert asgiweb_path in ("uvicorn", "native")
    client = await aiohttp_client(create_app())
    assert (await client.get("/")).status == 200

"""


def setup_suite(pytester: pytest.Pytester, mode: str = "auto") -> None:
    pytester.makeini(INI.format(mode=mode))
    pytester.makeconftest('pytest_plugins = ["asgiweb.pytest_plugin"]\n')


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_ported_suite_passes_on_every_path(pytester: pytest.Pytester, mode: str) -> None:
    setup_suite(pytester, mode)
    marker = "pytestmark = pytest.mark.asyncio" if mode == "strict" else ""
    pytester.makepyfile(test_ported=PORTED.format(marker=marker))
    result = pytester.runpytest_subprocess("--asgiweb-path=all", "-v", timeout=50)
    result.assert_outcomes(passed=3 * PORTED_TESTS)
    result.stdout.fnmatch_lines_random(
        [
            f"*::test_{name}[[]{path}[]] PASSED*"
            for name in ("hello", "websocket_echo")
            for path in ("native", "uvicorn", "hypercorn")
        ]
    )


def test_failures_and_server_errors_fail_on_every_path(pytester: pytest.Pytester) -> None:
    setup_suite(pytester)
    pytester.makepyfile(test_failures=FAILURES)
    result = pytester.runpytest_subprocess("--asgiweb-path=all", "-v", timeout=50)
    result.assert_outcomes(failed=6, passed=5)
    failed = sorted(line.split(" - ")[0] for line in result.outlines if line.startswith("FAILED"))
    assert failed == [
        f"FAILED test_failures.py::test_{name}[{path}]"
        for name in ("handler_raises", "wrong_status")
        for path in ("hypercorn", "native", "uvicorn")
    ]
    result.stdout.fnmatch_lines_random(
        [f"*::test_handler_raises_allowed[[]{path}[]] PASSED*" for path in PATHS]
        + [
            "*::test_marker_paths[[]uvicorn[]] PASSED*",
            "*::test_marker_paths[[]native[]] PASSED*",
            "*assert 200 == 201*",
            "*1 unhandled exception(s) in the server(s) of this test:*",
            "*mark it @pytest.mark.asgiweb_server_errors(*allow*",
            "*Traceback (most recent call last)*",
        ]
    )
    # The handler's traceback is shown for each path.
    assert str(result.stdout).count("RuntimeError: kaboom-4711") >= 3
    for path in PATHS:
        assert str(result.stdout).count(f"test_handler_raises[{path}] ___") == 1


def test_allow_option_reports_instead(pytester: pytest.Pytester) -> None:
    setup_suite(pytester)
    pytester.makepyfile(test_failures=FAILURES)
    result = pytester.runpytest_subprocess(
        "--asgiweb-server-errors=allow", "-k", "raises", "-rP", timeout=50
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines_random(
        ["*Captured asgiweb server errors call*", "*RuntimeError: kaboom-4711*"]
    )


def test_clash_with_pytest_aiohttp(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for an installed pytest-aiohttp: same module and entry point, so pytest
    # auto-loads it the same way.
    site = pytester.mkdir("site")
    (site / "pytest_aiohttp").mkdir()
    (site / "pytest_aiohttp" / "__init__.py").write_text("")
    (site / "pytest_aiohttp" / "plugin.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef aiohttp_client():\n    return 'pytest-aiohttp'\n"
    )
    dist = site / "pytest_aiohttp-1.1.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pytest-aiohttp\nVersion: 1.1.1\n")
    (dist / "entry_points.txt").write_text("[pytest11]\naiohttp = pytest_aiohttp.plugin\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    setup_suite(pytester)
    pytester.makepyfile(
        test_one="def test_one(aiohttp_unused_port):\n    assert aiohttp_unused_port()\n"
    )

    result = pytester.runpytest_subprocess(timeout=50)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*asgiweb.pytest_plugin and pytest-aiohttp are both loaded*the fixture names clash,"
            " remove one*-p no:aiohttp*"
        ]
    )
    # The remedy the message names works.
    pytester.runpytest_subprocess("-p", "no:aiohttp", timeout=50).assert_outcomes(passed=1)


def test_clash_with_aiohttp_pytest_plugin(pytester: pytest.Pytester) -> None:
    setup_suite(pytester)
    pytester.makeconftest('pytest_plugins = ["asgiweb.pytest_plugin", "aiohttp.pytest_plugin"]\n')
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_inprocess()  # fails at configure: no loop, no server
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*asgiweb.pytest_plugin and aiohttp.pytest_plugin are both loaded*"]
    )
