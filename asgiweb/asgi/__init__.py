"""The ASGI adapter: how an :class:`~asgiweb.app.Application` is an ASGI application.

``adapter`` turns a scope into the core's request head and serves the ``http``,
``websocket`` and ``lifespan`` scopes; ``sink`` sends an ``http`` response, ``websocket``
a WebSocket's handshake answer and its messages. This package imports only the core,
never a server.

The names below are re-exported for users (``from asgiweb.asgi import lifespan``, as
documented, and those of the former modules ``asgiweb.asgi`` and
``asgiweb.asgi_websocket``); asgiweb's own modules import from the defining module.
"""

from __future__ import annotations

from .adapter import ASGIAdapter, BadRequest, ResponseAborted, lifespan
from .sink import ASGIConnection, ASGISink, ASGITransport
from .websocket import ASGIWebSocketChannel, ASGIWebSocketSink

__all__ = [
    "ASGIAdapter",
    "ASGIConnection",
    "ASGISink",
    "ASGITransport",
    "ASGIWebSocketChannel",
    "ASGIWebSocketSink",
    "BadRequest",
    "ResponseAborted",
    "lifespan",
]
