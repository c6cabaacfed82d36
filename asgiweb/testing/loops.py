"""Event loops for tests that drive a loop by hand (aiohttp's ``loop_context``)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Iterator

__all__ = ["loop_context", "setup_test_loop", "teardown_test_loop"]

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


@contextlib.contextmanager
def loop_context(
    loop_factory: LoopFactory = asyncio.new_event_loop, fast: bool = False
) -> Iterator[asyncio.AbstractEventLoop]:
    """Yield a new event loop, set as the current one; close it on exit."""
    loop = setup_test_loop(loop_factory)
    try:
        yield loop
    finally:
        teardown_test_loop(loop, fast=fast)


def setup_test_loop(
    loop_factory: LoopFactory = asyncio.new_event_loop,
) -> asyncio.AbstractEventLoop:
    """Make a loop with ``loop_factory`` and set it as the current one."""
    loop = loop_factory()
    asyncio.set_event_loop(loop)
    return loop


def teardown_test_loop(loop: asyncio.AbstractEventLoop, fast: bool = False) -> None:
    """Close ``loop`` (letting its pending callbacks run once) and unset it; unless
    ``fast``, collect garbage so that what the test leaked is finalised now, inside it."""
    if not loop.is_closed():
        loop.call_soon(loop.stop)
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    if not fast:
        gc.collect()
    asyncio.set_event_loop(None)
