"""One application being served: what a transport needs from it, and the one sequence
that starts and stops it.

Both transports go through :meth:`Application.serving`: the ASGI adapter (lifespan
events, or the first request when the server sends none), the native ``AppRunner``
(and so ``run_app`` and the gunicorn worker), and :func:`asgiweb.asgi.lifespan` for hosts
that do not forward lifespan events. None of them reaches into the application.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Application
    from .request import BaseRequest
    from .typedefs import RequestHandler

__all__ = ["ServedApplication", "stop_in_order"]


class ServedApplication:
    """An :class:`Application` as a server sees it, made by ``app.serving()``.

    ``async with app.serving() as served:`` runs the startup sequence on entry and the
    shutdown sequence on exit; a server that must drain its connections between
    ``on_shutdown`` and ``on_cleanup`` calls :meth:`startup` and :meth:`stop` itself.
    Each step runs at most once per instance.
    """

    __slots__ = ("app", "handler", "request_factory", "handler_args", "debug", "_steps")

    def __init__(
        self,
        app: Application,
        *,
        handler: RequestHandler,
        request_factory: Callable[..., BaseRequest],
        handler_args: Mapping[str, Any] | None,
    ) -> None:
        self.app = app
        #: The entry point for every request: routing, middlewares, the handler.
        self.handler = handler
        #: Builds the request that ``handler`` takes from what a transport read:
        #: ``request_factory(head, payload, sink, task=None)``.
        self.request_factory = request_factory
        #: ``Application(handler_args=...)``: server settings such as ``read_bufsize``.
        self.handler_args: Mapping[str, Any] = MappingProxyType(dict(handler_args or {}))
        self.debug: bool = app.debug
        self._steps: set[str] = set()

    @property
    def started(self) -> bool:
        """Whether :meth:`startup` ran (even if it failed)."""
        return "startup" in self._steps

    def freeze(self) -> None:
        """Refuse further changes: for a server that serves without a startup sequence
        (an ASGI server run without lifespan events)."""
        self.app.freeze()

    async def startup(self) -> None:
        """``on_startup`` (cleanup contexts first), then freeze the application.

        Startup handlers may still change the application's state, as under aiohttp's
        runner. A failed startup is not followed by cleanup here: the caller decides.
        """
        if self._once("startup"):
            app = self.app
            app.pre_freeze()
            await app.startup()
            app.freeze()

    async def shutdown(self) -> None:
        """``on_shutdown``."""
        if self._once("shutdown"):
            await self.app.shutdown()

    async def cleanup(self) -> None:
        """The cleanup contexts' exits and ``on_cleanup``."""
        if self._once("cleanup"):
            await self.app.cleanup()

    async def stop(self, drain: Callable[[], Awaitable[None]] | None = None) -> None:
        """The shutdown sequence (see :func:`stop_in_order`); ``drain`` runs between
        ``on_shutdown`` and the cleanup (a server waits for in-flight requests there)."""
        await stop_in_order(self.shutdown, drain, self.cleanup)

    async def __aenter__(self) -> ServedApplication:
        await self.startup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _once(self, step: str) -> bool:
        if step in self._steps:
            return False
        self._steps.add(step)
        return True


async def stop_in_order(
    shutdown: Callable[[], Awaitable[None]],
    drain: Callable[[], Awaitable[None]] | None,
    cleanup: Callable[[], Awaitable[None]],
) -> None:
    """aiohttp's stop order: ``shutdown``, ``drain``, ``cleanup``.

    A ``shutdown`` that raises skips none of the later steps (aiohttp skips them all,
    cleanup contexts included, which leaks what they opened); its error is raised after
    them. Cancellation is not an error: it goes through at once.
    """
    try:
        await shutdown()
    except Exception:
        if drain is not None:
            await drain()
        await cleanup()
        raise
    if drain is not None:
        await drain()
    await cleanup()
