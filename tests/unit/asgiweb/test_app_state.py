"""Application state keys, deprecations, cleanup contexts and old-style middleware."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import pytest

from asgiweb import web
from asgiweb.app import BaseKey

MODULE_KEY = web.AppKey("module_key", int)


def test_key_names_carry_the_defining_module() -> None:
    assert repr(MODULE_KEY) == f"<AppKey({__name__}.module_key, type=int)>"
    assert repr(web.RequestKey("r", str)).startswith("<RequestKey(")
    assert repr(web.ResponseKey[list[int]]("r")).endswith(".r, type=list[int])>")
    assert isinstance(web.RequestKey("r", str), BaseKey)


def test_keys_sort_before_strings() -> None:
    app = web.Application()
    b, c = web.AppKey("b", str), web.AppKey("c", str)
    with pytest.warns(web.NotAppKeyWarning):
        app["a"] = "0"
    app[c] = "2"
    app[b] = "1"
    with pytest.warns(web.NotAppKeyWarning):
        app["d"] = "4"
    assert sorted(app) == [b, c, "a", "d"]
    assert sorted([web.RequestKey("z", int), "y", web.RequestKey("x", int)])[2] == "y"


def test_string_key_warning_points_at_the_docs_and_the_caller() -> None:
    app = web.Application()
    with pytest.warns(web.NotAppKeyWarning, match=r"web_advanced\.html#application-s-config") as w:
        app["key"] = "value"
    assert w[0].filename == __file__


def test_deprecated_constructor_arguments_and_properties() -> None:
    with pytest.warns(DeprecationWarning, match="router argument is deprecated"):
        app = web.Application(router=web.UrlDispatcher())
    with pytest.warns(DeprecationWarning):
        assert app.loop is None
    logger = logging.getLogger("test_app_state")
    app.logger = logger
    assert app.logger is logger


def test_subclassing_is_discouraged_not_forbidden() -> None:
    with pytest.warns(DeprecationWarning, match="Inheritance class Mine"):

        class Mine(web.Application):
            pass

    assert isinstance(Mine(), web.Application)


def test_sub_app_is_pre_frozen_once_added() -> None:
    app, sub = web.Application(), web.Application()
    assert not sub.pre_frozen
    app.add_subapp("/sub", sub)
    assert sub.pre_frozen and not sub.frozen


def test_make_handler_is_deprecated_and_gives_a_protocol_factory() -> None:
    app = web.Application(handler_args={"keepalive_timeout": 5.0})
    with pytest.warns(DeprecationWarning, match="use AppRunner"):
        server = app.make_handler()
    assert server.handler == app._handle and server.keepalive_timeout == 5.0
    assert app.frozen


def test_old_style_middleware_warning_text() -> None:
    async def factory(app: web.Application, handler: Any) -> Any:
        return handler

    app = web.Application(middlewares=[factory])
    with pytest.warns(DeprecationWarning, match=r'^old-style middleware ".*factory.*" deprecated'):
        app.freeze()


def test_cleanup_ctx_takes_context_managers_and_generators() -> None:
    out: list[str] = []

    async def gen(app: web.Application) -> AsyncIterator[None]:
        out.append("enter-gen")
        yield
        out.append("exit-gen")

    @asynccontextmanager
    async def cm(app: web.Application) -> AsyncIterator[None]:
        out.append("enter-cm")
        yield
        out.append("exit-cm")

    class Manual:
        def __init__(self, app: web.Application) -> None:
            pass

        async def __aenter__(self) -> None:
            out.append("enter-manual")

        async def __aexit__(
            self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
        ) -> None:
            out.append("exit-manual")

    app = web.Application()
    app.cleanup_ctx.extend([gen, cm, Manual])
    app.freeze()

    async def run() -> None:
        await app.startup()
        await app.cleanup()

    asyncio.run(run())
    assert out == [
        "enter-gen",
        "enter-cm",
        "enter-manual",
        "exit-manual",
        "exit-cm",
        "exit-gen",
    ]


def test_cleanup_ctx_collects_cancellation_with_other_errors() -> None:
    out: list[str] = []

    def make(num: int, exc: BaseException | None) -> Any:
        async def ctx(app: web.Application) -> AsyncIterator[None]:
            yield
            out.append(f"post_{num}")
            if exc is not None:
                raise exc

        return ctx

    app = web.Application()
    app.cleanup_ctx.extend(
        [make(1, None), make(2, ValueError("two")), make(3, asyncio.CancelledError("three"))]
    )
    app.freeze()

    async def run() -> None:
        await app.startup()
        await app.cleanup()

    with pytest.raises(web.CleanupError) as info:
        asyncio.run(run())
    assert [str(e) for e in info.value.exceptions] == ["three", "two"]
    assert out == ["post_3", "post_2", "post_1"]


def test_cleanup_ctx_with_two_yields_fails_and_is_closed() -> None:
    out: list[str] = []

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        try:
            yield
        finally:
            out.append("closed")

    app = web.Application()
    app.cleanup_ctx.append(ctx)
    app.freeze()

    async def run() -> None:
        await app.startup()
        with pytest.raises(RuntimeError, match="has more than one 'yield'"):
            await app.cleanup()
        # Closed at once, not left for the garbage collector.
        assert out == ["closed"]

    asyncio.run(run())


def test_calling_the_app_without_arguments_gives_the_app() -> None:
    app = web.Application()
    assert app() is app
    # ASGI servers still see an ASGI 3 application (uvicorn and hypercorn both look).
    assert inspect.iscoroutinefunction(app.__call__)
    assert asyncio.iscoroutinefunction(app.__call__)


def test_request_and_response_keys_hold_state() -> None:
    from asgiweb.test_utils import make_mocked_request

    request_key = web.RequestKey("user", str)
    response_key = web.ResponseKey("timing", float)
    request = make_mocked_request("GET", "/")
    request[request_key] = "alice"
    response = web.Response()
    response[response_key] = 0.5
    assert request[request_key] == "alice" and list(request) == [request_key]
    assert response[response_key] == 0.5 and list(response) == [response_key]
