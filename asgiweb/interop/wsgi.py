"""Serve a WSGI application under a path prefix of an asgiweb application, as an ASGI
application mounted there (asgiref's ``WsgiToAsgi``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .asgi_app import ASGIApp, ASGIMountResource, mount_asgi

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from ..app import Application

__all__ = ["WSGIApp", "mount_wsgi"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


def mount_wsgi(
    app: Application,
    prefix: str,
    wsgi_app: WSGIApp,
    *,
    name: str | None = None,
    executor: ThreadPoolExecutor | None = None,
) -> ASGIMountResource:
    """Serve the WSGI application ``wsgi_app`` under ``prefix``, through
    :class:`asgiref.wsgi.WsgiToAsgi` (which reads the whole body before calling it).

    WSGI calls run in ``executor``, the event loop's default executor when None.
    """
    return mount_asgi(app, prefix, _wsgi_to_asgi(wsgi_app, executor), name=name)


def _wsgi_to_asgi(wsgi_app: WSGIApp, executor: ThreadPoolExecutor | None) -> ASGIApp:
    from asgiref.sync import sync_to_async
    from asgiref.wsgi import WsgiToAsgi, WsgiToAsgiInstance

    run: Any = getattr(WsgiToAsgiInstance.__dict__.get("run_wsgi_app"), "func", None)
    if run is None:  # another asgiref layout: take its adapter as it is
        return WsgiToAsgi(wsgi_app)  # type: ignore[no-untyped-call]

    class Instance(WsgiToAsgiInstance):
        # asgiref runs every WSGI call in one thread shared by the process
        # (thread_sensitive), queueing requests although it sets wsgi.multithread; and
        # since asgiref 3.9 that path can fail with "CurrentThreadExecutor already quit
        # or is broken" (django/asgiref#491, #526).
        run_wsgi_app = sync_to_async(run, thread_sensitive=False, executor=executor)

    async def adapter(scope: Any, receive: Any, send: Any) -> None:
        await Instance(wsgi_app)(scope, receive, send)  # type: ignore[no-untyped-call]

    return adapter
