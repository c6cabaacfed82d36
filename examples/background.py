"""A background task tied to the application's life with ``cleanup_ctx``: started before
the first request, cancelled (and awaited) at shutdown.

Serve it natively with ``python examples/background.py`` (port 8080, or ``PORT``), or
with an ASGI server: ``uvicorn examples.background:app`` (its lifespan runs the context);
then ``curl localhost:8080/`` a few times and watch ``ticks`` grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from asgiweb import web


@dataclass
class Ticker:
    """What the background task updates and the handler reads."""

    interval: float
    ticks: int = 0
    last_tick: float | None = None  # time.time() of the last tick
    running: bool = False


ticker_key = web.AppKey("ticker", Ticker)
task_key = web.AppKey("ticker_task", asyncio.Task[None])


async def tick(ticker: Ticker) -> None:
    ticker.running = True
    try:
        while True:
            await asyncio.sleep(ticker.interval)
            ticker.ticks += 1
            ticker.last_tick = time.time()
    finally:
        ticker.running = False  # cancelled at shutdown: say so


async def run_ticker(app: web.Application) -> AsyncIterator[None]:
    app[task_key] = asyncio.create_task(tick(app[ticker_key]))
    yield  # the application serves here
    app[task_key].cancel()
    # Wait for it: a task still running after shutdown would outlive its event loop.
    with contextlib.suppress(asyncio.CancelledError):
        await app[task_key]


async def status(request: web.Request) -> web.Response:
    ticker = request.app[ticker_key]
    return web.json_response(
        {"ticks": ticker.ticks, "last_tick": ticker.last_tick, "running": ticker.running}
    )


def make_app(interval: float = 1.0) -> web.Application:
    app = web.Application()
    app[ticker_key] = Ticker(interval)
    app.cleanup_ctx.append(run_ticker)
    app.router.add_get("/", status)
    return app


app = make_app()

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
