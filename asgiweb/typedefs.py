"""Type aliases shared by the core and both transports (aiohttp's ``typedefs``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from .request import BaseRequest, Request
    from .response import StreamResponse

__all__ = ["Handler", "RequestHandler"]

#: A route's handler, and what a middleware calls to go on.
Handler: TypeAlias = Callable[["Request"], Awaitable["StreamResponse"]]

#: What a server calls per request: an application's entry point or a low-level handler.
RequestHandler: TypeAlias = Callable[["BaseRequest"], Awaitable["StreamResponse"]]
