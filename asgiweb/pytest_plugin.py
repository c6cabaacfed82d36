"""pytest fixtures for asgiweb applications, under pytest-aiohttp's names.

Enable it explicitly (it is deliberately not an auto-loaded ``pytest11`` entry point, which
would clash with pytest-aiohttp)::

    # conftest.py at the root of the test suite
    pytest_plugins = ["asgiweb.pytest_plugin"]

Fixtures: ``aiohttp_client``, ``aiohttp_server``, ``aiohttp_raw_server``,
``aiohttp_unused_port``, ``aiohttp_client_cls`` and ``asgiweb_path``. Options:
``--asgiweb-path=native|uvicorn|hypercorn|all`` and ``--asgiweb-server-errors=fail|allow``.
Markers: ``asgiweb_path(*paths)`` and ``asgiweb_server_errors("allow" | "fail")``.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping, Sequence
from typing import Any, Protocol, overload

import pytest

try:
    import pytest_asyncio
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "asgiweb.pytest_plugin needs pytest-asyncio: pip install pytest-asyncio "
        "(or the `testing` extra: pip install -e '.[testing]' in a checkout)"
    ) from exc

from .app import Application
from .request import BaseRequest, Request
from .test_utils import (
    PATHS,
    BaseTestServer,
    ServerError,
    TestClient,
    make_test_server,
    unused_port,
)

__all__ = [
    "PATHS",
    "AiohttpClient",
    "AiohttpRawServer",
    "AiohttpServer",
    "aiohttp_client",
    "aiohttp_client_cls",
    "aiohttp_raw_server",
    "aiohttp_server",
    "aiohttp_unused_port",
    "asgiweb_path",
]

_ERROR_MODES = ("fail", "allow")
_SECTION = "asgiweb server errors"
_FIXTURES = "aiohttp_client, aiohttp_server, aiohttp_raw_server and aiohttp_unused_port"
_RECORD_FORMAT = logging.Formatter("%(name)s %(levelname)s: %(message)s")


class AiohttpClient(Protocol):
    """The ``aiohttp_client`` factory."""

    @overload
    async def __call__(
        self, app: Application, /, *, server_kwargs: Mapping[str, Any] | None = ..., **kwargs: Any
    ) -> TestClient[Request, Application]: ...

    @overload
    async def __call__(
        self,
        server_or_handler: BaseTestServer | Callable[..., Awaitable[Any]],
        /,
        *,
        server_kwargs: Mapping[str, Any] | None = ...,
        **kwargs: Any,
    ) -> TestClient[BaseRequest, None]: ...


class AiohttpServer(Protocol):
    """The ``aiohttp_server`` factory."""

    def __call__(
        self, app: Application, *, port: int | None = None, **kwargs: Any
    ) -> Awaitable[BaseTestServer]: ...


class AiohttpRawServer(Protocol):
    """The ``aiohttp_raw_server`` factory."""

    def __call__(
        self, handler: Callable[..., Awaitable[Any]], *, port: int | None = None, **kwargs: Any
    ) -> Awaitable[BaseTestServer]: ...


# -- configuration -------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("asgiweb", "asgiweb test servers")
    group.addoption(
        "--asgiweb-path",
        dest="asgiweb_path",
        choices=(*PATHS, "all"),
        default="native",
        help="serve the tests that use the aiohttp_* fixtures on this path; "
        "'all' runs each of them once per path (default: native)",
    )
    group.addoption(
        "--asgiweb-server-errors",
        dest="asgiweb_server_errors",
        choices=_ERROR_MODES,
        default="fail",
        help="'fail' (default): an unhandled exception in a test's server fails the test; "
        "'allow': only report it",
    )


def pytest_configure(config: pytest.Config) -> None:
    clash = _clashing_plugin(config)
    if clash is not None:
        raise pytest.UsageError(_clash_message(*clash))
    config.addinivalue_line(
        "markers",
        "asgiweb_path(*paths): serve this test on these paths (native, uvicorn, hypercorn "
        "or all) instead of the one --asgiweb-path selects",
    )
    config.addinivalue_line(
        "markers",
        'asgiweb_server_errors(mode): "allow" only reports unhandled exceptions in this '
        'test\'s servers; "fail" (the default) fails the test',
    )


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"asgiweb: path={config.getoption('asgiweb_path')}, "
        f"server errors={config.getoption('asgiweb_server_errors')}"
    )


def _clashing_plugin(config: pytest.Config) -> tuple[str, str] | None:
    """The (description, how to remove it) of a loaded plugin defining our fixture names."""
    for _, plugin in config.pluginmanager.list_name_plugin():
        module = getattr(plugin, "__name__", "")
        if module == "pytest_aiohttp" or module.startswith("pytest_aiohttp."):
            return (
                "pytest-aiohttp",
                "uninstall pytest-aiohttp, or disable it with '-p no:aiohttp' (e.g. in addopts)",
            )
        if module == "aiohttp.pytest_plugin":
            return (
                "aiohttp.pytest_plugin",
                "remove 'aiohttp.pytest_plugin' from pytest_plugins (or from -p)",
            )
    return None


def _clash_message(other: str, removal: str) -> str:
    return (
        f"asgiweb.pytest_plugin and {other} are both loaded, and both define the fixtures "
        f"{_FIXTURES}: the fixture names clash, remove one. To keep asgiweb's, {removal}; "
        "to keep the other, remove 'asgiweb.pytest_plugin' from pytest_plugins."
    )


# -- choosing the serving path -------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "asgiweb_path" not in metafunc.fixturenames or _parametrized_by_test(metafunc):
        return
    paths = _paths_for(metafunc.definition)
    # One path needs no parameter: the test id stays the one the ported suite had.
    if len(paths) > 1:
        metafunc.parametrize("asgiweb_path", paths, indirect=True, ids=paths)


def _parametrized_by_test(metafunc: pytest.Metafunc) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if "asgiweb_path" in names:
            return True
    return False


def _paths_for(node: pytest.Item) -> list[str]:
    """The paths a test runs on: its ``asgiweb_path`` marker, else ``--asgiweb-path``."""
    marker = node.get_closest_marker("asgiweb_path")
    if marker is None:
        chosen: Sequence[object] = [node.config.getoption("asgiweb_path")]
    else:
        chosen = marker.args
        if not chosen:
            pytest.fail(f"{node.nodeid}: asgiweb_path marker needs a path", pytrace=False)
    paths: list[str] = []
    for name in chosen:
        if name not in (*PATHS, "all"):
            pytest.fail(
                f"{node.nodeid}: unknown asgiweb path {name!r}; "
                f"choose from {', '.join(PATHS)} or all",
                pytrace=False,
            )
        for path in PATHS if name == "all" else (str(name),):
            if path not in paths:
                paths.append(path)
    return paths


@pytest.fixture
def asgiweb_path(request: pytest.FixtureRequest) -> str:
    """The serving path of this test: "native", "uvicorn" or "hypercorn"."""
    param = getattr(request, "param", None)
    if param is not None:
        return str(param)
    return _paths_for(request.node)[0]


# -- what the fixtures started -------------------------------------------------------------


class _Started:
    """The clients and servers one test's fixtures started, closed in reverse order."""

    def __init__(self) -> None:
        self.stack = contextlib.AsyncExitStack()
        self._servers: list[BaseTestServer] = []
        # Servers running at once all record the same error: report it once.
        self._reported: list[ServerError] = []

    def track(self, server: BaseTestServer) -> None:
        if all(known is not server for known in self._servers):
            self._servers.append(server)

    def new_errors(self) -> list[tuple[BaseTestServer, ServerError]]:
        """Server-side errors recorded since the last call, each once."""
        found: list[tuple[BaseTestServer, ServerError]] = []
        for server in self._servers:
            for error in server.errors:
                if all(error is not known for known in self._reported):
                    self._reported.append(error)
                    found.append((server, error))
        return found


_STARTED = pytest.StashKey[_Started]()


@pytest_asyncio.fixture
async def _asgiweb_started(request: pytest.FixtureRequest) -> AsyncIterator[_Started]:
    """One stack for all the factories, so teardown closes in reverse order of creation."""
    _server_errors_mode(request.node)  # a misspelt marker fails now, not only on an error
    started = _Started()
    request.node.stash[_STARTED] = started
    async with started.stack:
        yield started


async def _start(started: _Started, server: BaseTestServer, **kwargs: Any) -> None:
    started.track(server)
    # Registered before starting: a start that fails half way still gets cleaned up.
    started.stack.push_async_callback(server.close)
    await server.start_server(**kwargs)


def _reject_aiohttp_app(obj: object) -> None:
    if type(obj).__module__.startswith("aiohttp."):
        raise TypeError(
            f"got an {type(obj).__module__}.{type(obj).__qualname__}: build the application "
            "with asgiweb (`from asgiweb import web` instead of `from aiohttp import web`)"
        )


# -- the fixtures --------------------------------------------------------------------------


@pytest.fixture
def aiohttp_unused_port() -> Callable[[], int]:
    """A function returning a free TCP port on the loopback interface."""
    return unused_port


@pytest.fixture
def aiohttp_client_cls() -> type[TestClient[Any, Any]]:
    """The client class ``aiohttp_client`` makes; override it to use a subclass."""
    return TestClient


@pytest_asyncio.fixture
async def aiohttp_server(
    asgiweb_path: str, _asgiweb_started: _Started
) -> AsyncIterator[AiohttpServer]:
    """``await aiohttp_server(app, port=None, **kwargs)``: a started test server.

    It serves on the test's path; ``kwargs`` go to ``start_server()``.
    """

    async def go(
        app: Application, *, host: str = "127.0.0.1", port: int | None = None, **kwargs: Any
    ) -> BaseTestServer:
        _reject_aiohttp_app(app)
        server = make_test_server(app, path=asgiweb_path, host=host, port=port)
        await _start(_asgiweb_started, server, **kwargs)
        return server

    yield go


@pytest_asyncio.fixture
async def aiohttp_raw_server(
    asgiweb_path: str, _asgiweb_started: _Started
) -> AsyncIterator[AiohttpRawServer]:
    """``await aiohttp_raw_server(handler, port=None, **kwargs)``: a started low-level server."""

    async def go(
        handler: Callable[..., Awaitable[Any]],
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        **kwargs: Any,
    ) -> BaseTestServer:
        server = make_test_server(handler, path=asgiweb_path, host=host, port=port)
        await _start(_asgiweb_started, server, **kwargs)
        return server

    yield go


@pytest_asyncio.fixture
async def aiohttp_client(
    aiohttp_client_cls: type[TestClient[Any, Any]], asgiweb_path: str, _asgiweb_started: _Started
) -> AsyncIterator[AiohttpClient]:
    """``await aiohttp_client(app_or_server_or_handler, server_kwargs=None, **kwargs)``.

    An Application or a raw handler is served on the test's path; a server is used as is.
    ``kwargs`` go to the client (and on to its ``aiohttp.ClientSession``).
    """

    async def go(
        app_or_server: Any,
        /,
        *,
        server_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> TestClient[Any, Any]:
        _reject_aiohttp_app(app_or_server)
        if isinstance(app_or_server, BaseTestServer):
            server = app_or_server
        elif isinstance(app_or_server, Application) or callable(app_or_server):
            server = make_test_server(app_or_server, path=asgiweb_path, **(server_kwargs or {}))
        else:
            raise TypeError(f"Unknown argument type: {type(app_or_server)!r}")
        client = aiohttp_client_cls(server, **kwargs)
        _asgiweb_started.track(server)
        _asgiweb_started.stack.push_async_callback(client.close)
        await client.start_server()
        return client

    yield go


# -- server-side errors --------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _checking_server_errors(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    try:
        return (yield from _checking_server_errors(item, "teardown"))
    finally:
        # The servers and their errors are no use once the test is torn down.
        if _STARTED in item.stash:
            del item.stash[_STARTED]


def _checking_server_errors(item: pytest.Item, when: str) -> Generator[None, object, object]:
    try:
        result = yield
    except BaseException:
        # The test failed already: the server's side of the story goes in a section.
        _report_server_errors(item, when, may_fail=False)
        raise
    _report_server_errors(item, when, may_fail=True)
    return result


def _report_server_errors(item: pytest.Item, when: str, *, may_fail: bool) -> None:
    started = item.stash.get(_STARTED, None)
    errors = started.new_errors() if started is not None else []
    if not errors:
        return
    text = "\n\n".join(f"{_describe(server)}:\n{_format_error(error)}" for server, error in errors)
    if may_fail and _server_errors_mode(item) == "fail":
        pytest.fail(
            f"{len(errors)} unhandled exception(s) in the server(s) of this test:\n\n{text}\n\n"
            "An error in a server under test fails the test. If the test provokes it on "
            'purpose, mark it @pytest.mark.asgiweb_server_errors("allow").',
            pytrace=False,
        )
    item.add_report_section(when, _SECTION, text)


def _server_errors_mode(item: pytest.Item) -> str:
    marker = item.get_closest_marker("asgiweb_server_errors")
    if marker is None:
        return str(item.config.getoption("asgiweb_server_errors"))
    mode = marker.args[0] if marker.args else marker.kwargs.get("mode")
    if mode not in _ERROR_MODES:
        pytest.fail(
            f'{item.nodeid}: asgiweb_server_errors takes "allow" or "fail", not {mode!r}',
            pytrace=False,
        )
    return str(mode)


def _describe(server: BaseTestServer) -> str:
    name = type(server).__name__
    software = getattr(server, "server_name", None)
    if software:
        name += f" ({software})"
    if server.port:  # None once closed
        name += f" at {server.scheme}://{server.host}:{server.port}"
    return name


def _format_error(error: ServerError) -> str:
    if isinstance(error, BaseException):
        return "".join(traceback.format_exception(error)).rstrip()
    return _RECORD_FORMAT.format(error)
