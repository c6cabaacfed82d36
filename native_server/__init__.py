"""The native asyncio HTTP/1.1 server of asgiweb: runners, sites and run_app."""

from __future__ import annotations

from asgiweb import app as _app_module

from .run import run_app
from .runner import (
    AppRunner,
    BaseRunner,
    BaseSite,
    GracefulExit,
    NamedPipeSite,
    ServerRunner,
    SockSite,
    TCPSite,
    UnixSite,
)
from .server import Server

# Application.make_handler (deprecated) hands out this class; the core cannot import it.
_app_module.protocol_factory_class = Server

__all__ = [
    "AppRunner",
    "BaseRunner",
    "BaseSite",
    "GracefulExit",
    "NamedPipeSite",
    "Server",
    "ServerRunner",
    "SockSite",
    "TCPSite",
    "UnixSite",
    "run_app",
]
