"""The one serving lifecycle, ``Application.serving()``, and that every way of serving
an application goes through it."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asgiweb import web
from asgiweb.asgi import lifespan
from asgiweb.lifecycle import ServedApplication, stop_in_order

ROOT = Path(__file__).resolve().parents[3]
LATE = web.AppKey("late", int)
asyncio_test = pytest.mark.asyncio


def recording_app(log: list[str], *, fail_shutdown: bool = False) -> web.Application:
    app = web.Application()

    async def on_startup(app: web.Application) -> None:
        log.append("startup")
        app[LATE] = 1  # startup handlers may still set state

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        log.append("ctx enter")
        yield
        log.append("ctx exit")

    async def on_shutdown(app: web.Application) -> None:
        log.append("shutdown")
        if fail_shutdown:
            raise RuntimeError("shutdown failed")

    async def on_cleanup(app: web.Application) -> None:
        log.append("cleanup")

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app.on_startup.append(on_startup)
    app.cleanup_ctx.append(ctx)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    app.router.add_get("/", hello)
    return app


@asyncio_test
async def test_serving_runs_the_sequence_once_in_order() -> None:
    log: list[str] = []
    app = recording_app(log)
    async with app.serving() as served:
        assert isinstance(served, ServedApplication)
        assert served.started and app.frozen and app[LATE] == 1
        assert log == ["ctx enter", "startup"]
        await served.startup()  # a second call is no second startup
    assert log == ["ctx enter", "startup", "shutdown", "ctx exit", "cleanup"]
    await served.stop()
    assert log.count("cleanup") == 1


@asyncio_test
async def test_serving_exposes_the_request_entry_point() -> None:
    app = recording_app([], fail_shutdown=False)
    served = app.serving()
    served.freeze()
    from asgiweb.test_utils import make_mocked_request

    request = make_mocked_request("GET", "/", app=app)
    response = await served.handler(request)
    assert isinstance(response, web.Response) and response.text == "hi"
    assert served.handler_args == {} and served.debug is False


@asyncio_test
async def test_failing_shutdown_skips_neither_drain_nor_cleanup() -> None:
    log: list[str] = []
    app = recording_app(log, fail_shutdown=True)
    served = app.serving()
    await served.startup()

    async def drain() -> None:
        log.append("drain")

    with pytest.raises(RuntimeError, match="shutdown failed"):
        await served.stop(drain)
    assert log[2:] == ["shutdown", "drain", "ctx exit", "cleanup"]


@asyncio_test
async def test_stop_in_order_lets_cancellation_through() -> None:
    log: list[str] = []

    async def shutdown() -> None:
        raise asyncio.CancelledError

    async def step() -> None:
        log.append("ran")

    with pytest.raises(asyncio.CancelledError):
        await stop_in_order(shutdown, step, step)
    assert log == []


@asyncio_test
async def test_runner_and_lifespan_helper_use_the_same_sequence() -> None:
    for serve in ("runner", "helper", "asgi"):
        log: list[str] = []
        app = recording_app(log)
        if serve == "runner":
            runner = web.AppRunner(app)
            await runner.setup()
            await runner.cleanup()
        elif serve == "helper":
            async with lifespan(app):
                pass
        else:
            await _asgi_lifespan(app)
        assert log == ["ctx enter", "startup", "shutdown", "ctx exit", "cleanup"], serve


async def _asgi_lifespan(app: web.Application) -> None:
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    replies: list[str] = []
    for kind in ("lifespan.startup", "lifespan.shutdown"):
        incoming.put_nowait({"type": kind})

    async def send(message: Any) -> None:
        replies.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, incoming.get, send)
    assert replies == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def _private_names_of_application() -> set[str]:
    tree = ast.parse((ROOT / "asgiweb" / "app.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Application")
    names = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "self":
                names.add(node.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _reaches_into(path: Path, private: set[str], root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in private:
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in {"self", "cls"}:
                continue
            found.append(f"{path.relative_to(root)}:{node.lineno}: .{node.attr}")
    return found


def test_no_adapter_reaches_into_the_application() -> None:
    """The adapters serve an app through ``app.serving()`` only."""
    private = _private_names_of_application()
    assert {"_handle", "_make_request", "_handler_args", "_frozen"} <= private
    # Names an adapter's own classes share with Application are theirs to use.
    private -= {"_logger", "_debug", "_loop", "_state"}
    adapters = [*ROOT.glob("asgiweb/asgi/*.py"), *ROOT.glob("native_server/**/*.py")]
    found = [hit for path in adapters for hit in _reaches_into(path, private)]
    assert found == []


def test_the_adapter_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "adapter.py"
    source = "class A:\n    def serve(self, app):\n        return self._handle, app._handle\n"
    bad.write_text(source)
    assert _reaches_into(bad, {"_handle"}, tmp_path) == ["adapter.py:3: ._handle"]
