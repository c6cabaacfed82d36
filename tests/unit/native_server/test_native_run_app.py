"""run_app's shutdown: the tasks it cancels, and a loop that is closed whatever happens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

from asgiweb import web


def stopper(loop: asyncio.AbstractEventLoop) -> Callable[..., None]:
    """A ``print`` for run_app that stops it (as Ctrl+C would) once it is serving."""

    def interrupt() -> None:
        raise KeyboardInterrupt

    def print_(*args: Any) -> None:
        loop.call_soon(interrupt)

    return print_


def run(app: web.Application, loop: asyncio.AbstractEventLoop) -> None:
    web.run_app(app, host="127.0.0.1", port=0, print=stopper(loop), loop=loop, handle_signals=False)


def test_a_task_failing_as_it_is_cancelled_is_reported_as_asyncio_run_does() -> None:
    loop = asyncio.new_event_loop()
    failure = RuntimeError("FAIL")
    tasks: list[asyncio.Task[None]] = []

    async def fail() -> None:
        try:
            await asyncio.sleep(1000)
        except asyncio.CancelledError:
            raise failure from None

    async def on_startup(app: web.Application) -> None:
        tasks.append(asyncio.get_running_loop().create_task(fail()))
        await asyncio.sleep(0)

    app = web.Application()
    app.on_startup.append(on_startup)
    handler = mock.Mock()
    loop.set_exception_handler(handler)
    run(app, loop)
    assert loop.is_closed()
    handler.assert_called_with(
        loop,
        {
            "message": "unhandled exception during asyncio.run() shutdown",
            "exception": failure,
            "task": tasks[0],
        },
    )


def test_the_loop_is_closed_even_when_shutting_down_fails() -> None:
    loop = asyncio.new_event_loop()

    async def interrupted_when_cancelled() -> None:
        try:
            await asyncio.sleep(1000)
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None

    tasks: list[asyncio.Task[None]] = []

    async def on_startup(app: web.Application) -> None:
        tasks.append(asyncio.get_running_loop().create_task(interrupted_when_cancelled()))
        await asyncio.sleep(0)

    app = web.Application()
    app.on_startup.append(on_startup)
    with pytest.raises(KeyboardInterrupt):
        run(app, loop)
    assert loop.is_closed()
    assert isinstance(tasks[0].exception(), KeyboardInterrupt)


def test_the_loop_is_closed_when_startup_fails() -> None:
    loop = asyncio.new_event_loop()

    async def on_startup(app: web.Application) -> None:
        raise RuntimeError("no start")

    app = web.Application()
    app.on_startup.append(on_startup)
    with pytest.raises(RuntimeError, match="no start"):
        run(app, loop)
    assert loop.is_closed()
