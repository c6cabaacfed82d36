"""Abstract bases that code type-checks against, as with ``aiohttp.abc``."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

from .typedefs import Handler as Handler

if TYPE_CHECKING:
    from .app import Application
    from .request import BaseRequest, Request
    from .response import StreamResponse

__all__ = ["AbstractRouter", "AbstractMatchInfo", "AbstractView", "AbstractAccessLogger"]


class AbstractRouter(ABC):
    """A router maps a request to an :class:`AbstractMatchInfo`."""

    def __init__(self) -> None:
        self._frozen = False

    def post_init(self, app: Application) -> None:  # noqa: B027 - optional hook
        """Called once the router is attached to ``app``."""

    @property
    def frozen(self) -> bool:
        return self._frozen

    def freeze(self) -> None:
        """Refuse further changes."""
        self._frozen = True

    @abstractmethod
    async def resolve(self, request: Request) -> AbstractMatchInfo:
        """Return the match for ``request``; never raise for an unknown path."""


class AbstractMatchInfo(ABC):
    """The result of routing one request."""

    __slots__ = ()

    @property
    @abstractmethod
    def handler(self) -> Handler:
        """The handler to call."""

    @property
    @abstractmethod
    def expect_handler(self) -> Callable[[Request], Awaitable[StreamResponse | None]]:
        """The handler for ``Expect: 100-continue``."""

    @property
    @abstractmethod
    def http_exception(self) -> Exception | None:
        """The HTTP exception the handler raises, for a failed match."""

    @abstractmethod
    def get_info(self) -> dict[str, Any]:
        """Information about the matched resource."""

    @property
    @abstractmethod
    def apps(self) -> tuple[Application, ...]:
        """The applications involved, root first."""

    @abstractmethod
    def add_app(self, app: Application) -> None:
        """Record a (parent) application that took part in the match."""

    @abstractmethod
    def freeze(self) -> None:
        """Refuse further changes."""


class AbstractView(ABC):
    """A class-based view: constructed with the request, awaited for the response."""

    def __init__(self, request: Request) -> None:
        self._request = request

    @property
    def request(self) -> Request:
        return self._request

    @abstractmethod
    def __await__(self) -> Generator[Any, None, StreamResponse]:
        """Handle the request."""


class AbstractAccessLogger(ABC):
    """Writes one access-log line per request."""

    __slots__ = ("logger", "log_format")

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        self.logger = logger
        self.log_format = log_format

    @abstractmethod
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Emit the line for ``request``; ``time`` is the handling time in seconds."""

    @property
    def enabled(self) -> bool:
        """False makes the server skip logging entirely."""
        return True
