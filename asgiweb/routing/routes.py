"""Routes (a method and a handler on a resource) and the match info the router returns."""

from __future__ import annotations

import asyncio
import functools
import inspect
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from yarl import URL

from .. import hdrs
from ..abc import AbstractMatchInfo, AbstractView
from ..exceptions import HTTPException, HTTPExpectationFailed
from ..typedefs import Handler as Handler

if TYPE_CHECKING:
    from ..app import Application
    from ..request import Request
    from ..response import StreamResponse
    from .resources import AbstractResource

__all__ = [
    "AbstractRoute",
    "ResourceRoute",
    "SystemRoute",
    "UrlMappingMatchInfo",
    "MatchInfoError",
]

ExpectHandler = Callable[["Request"], Awaitable["StreamResponse | None"]]


async def _default_expect_handler(request: Request) -> None:
    """Answer ``Expect: 100-continue``; any other expectation fails with 417."""
    expect = request.headers.get(hdrs.EXPECT, "")
    if request.version >= (1, 1):
        if expect.lower() == "100-continue":
            await request._sink.send_continue()
        else:
            # The value is the client's: bytes that are not UTF-8 arrive as surrogates,
            # which the body could not encode (a 500 instead of the 417). Shown as "?".
            shown = expect.encode("utf-8", "replace").decode("utf-8")
            raise HTTPExpectationFailed(text=f"Unknown Expect: {shown}")


def _wrap_handler(handler: Any) -> Handler:
    if isinstance(handler, type) and issubclass(handler, AbstractView):
        return handler
    if asyncio.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - async callable objects
    ):
        return handler  # type: ignore[no-any-return]
    if isinstance(handler, functools.partial) and asyncio.iscoroutinefunction(handler.func):
        return handler
    if not callable(handler):
        raise TypeError(f"Only async functions are allowed as web-handlers, got {handler!r}")
    warnings.warn("Bare functions are deprecated, use async ones", DeprecationWarning, stacklevel=4)

    @functools.wraps(handler)
    async def wrapped(request: Request) -> StreamResponse:
        result = handler(request)
        if inspect.isawaitable(result):
            result = await result
        return result  # type: ignore[no-any-return]

    return wrapped


class AbstractRoute:
    """A handler bound to an HTTP method, optionally on a resource."""

    __slots__ = ("_method", "_handler", "_expect_handler", "_resource", "_name")

    def __init__(
        self,
        method: str,
        handler: Any,
        *,
        expect_handler: ExpectHandler | None = None,
        resource: AbstractResource | None = None,
    ) -> None:
        if expect_handler is None:
            expect_handler = _default_expect_handler
        if not asyncio.iscoroutinefunction(expect_handler):
            # AssertionError, as aiohttp raises, but never stripped by ``python -O``.
            raise AssertionError(f"Coroutine is expected, got {expect_handler!r}")
        method = method.upper()
        if not hdrs.METH_ANY == method and not _is_token(method):
            raise ValueError(f"{method} is not allowed HTTP method")
        self._method = method
        self._handler = _wrap_handler(handler)
        self._expect_handler = expect_handler
        self._resource = resource
        self._name: str | None = None

    @property
    def method(self) -> str:
        """The HTTP method, upper-case, or ``"*"`` for any."""
        return self._method

    @property
    def handler(self) -> Handler:
        """The coroutine function (or view class) that answers the request."""
        return self._handler

    @property
    def name(self) -> str | None:
        """The route's name: its resource's, or ``<name>-head`` for add_get's HEAD route."""
        if self._name is not None:
            return self._name
        return self._resource.name if self._resource is not None else None

    @property
    def resource(self) -> AbstractResource | None:
        """The resource this route belongs to; None for a system route."""
        return self._resource

    def get_info(self) -> dict[str, Any]:
        """The resource's description (``path``, ``formatter``, ``prefix``, ...)."""
        return self._resource.get_info() if self._resource is not None else {}

    def url_for(self, *args: str, **kwargs: str) -> URL:
        """Build the URL of this route's resource."""
        if self._resource is None:
            raise RuntimeError("url_for() is not supported by this route")
        return self._resource.url_for(*args, **kwargs)

    async def handle_expect_header(self, request: Request) -> StreamResponse | None:
        """Run the expect handler for a request with ``Expect: 100-continue``."""
        return await self._expect_handler(request)


def _is_token(value: str) -> bool:
    return bool(value) and all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in value)


class ResourceRoute(AbstractRoute):
    """A route registered on a resource."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<ResourceRoute [{self.method}] {self._resource} -> {self.handler!r}>"


class SystemRoute(AbstractRoute):
    """The route of a failed match: its handler raises the HTTP error."""

    __slots__ = ("_http_exception",)

    def __init__(self, http_exception: HTTPException) -> None:
        # The exception, not self: a handler holding its route would be a reference cycle
        # on every request no route accepts.
        async def raise_error(request: Request) -> StreamResponse:
            raise http_exception

        super().__init__(hdrs.METH_ANY, raise_error)
        self._http_exception = http_exception

    def url_for(self, *args: str, **kwargs: str) -> URL:
        """Always raises ``RuntimeError``: a failed match has no URL."""
        raise RuntimeError(".url_for() is not allowed for SystemRoute")

    def get_info(self) -> dict[str, Any]:
        """``{"http_exception": ...}``: the error this route raises."""
        return {"http_exception": self._http_exception}

    @property
    def status(self) -> int:
        """The status of the HTTP error this route raises (404, 405, ...)."""
        return self._http_exception.status

    @property
    def reason(self) -> str:
        """The reason phrase of that error."""
        return self._http_exception.reason

    def __repr__(self) -> str:
        return f"<SystemRoute {self.status}: {self.reason}>"


class UrlMappingMatchInfo(dict[str, str], AbstractMatchInfo):
    """The path's variable parts (as a dict) plus the route that matched."""

    __slots__ = ("_route", "_apps", "_current_app", "_frozen")

    def __init__(self, match_dict: dict[str, str], route: AbstractRoute) -> None:
        if match_dict:
            super().__init__(match_dict)
        self._route = route
        self._apps: tuple[Application, ...] = ()
        self._current_app: Application | None = None
        self._frozen = False

    @property
    def handler(self) -> Handler:
        """The matched route's handler."""
        return self._route.handler

    @property
    def route(self) -> AbstractRoute:
        """The route that matched."""
        return self._route

    @property
    def expect_handler(self) -> ExpectHandler:
        """The matched route's handler for ``Expect: 100-continue``."""
        return self._route.handle_expect_header

    @property
    def http_exception(self) -> HTTPException | None:
        """None: the match succeeded (a failed match holds its 404 or 405 here)."""
        return None

    def get_info(self) -> dict[str, Any]:
        """The matched resource's description."""
        return self._route.get_info()

    @property
    def apps(self) -> tuple[Application, ...]:
        """The applications the request passed through, the root first."""
        return self._apps

    def add_app(self, app: Application) -> None:
        """Record ``app`` as the next outer application (done by sub-app resolution)."""
        if self._frozen:
            raise RuntimeError("Cannot change apps stack after .freeze() call")
        if self._current_app is None:
            self._current_app = app
        self._apps = (app, *self._apps)

    @property
    def current_app(self) -> Application:
        """The application whose middleware or handler is running now."""
        app = self._current_app
        assert app is not None
        return app

    @current_app.setter
    def current_app(self, app: Application) -> None:
        if app not in self._apps:
            raise RuntimeError(f"Expected one of the following apps {self._apps!r}, got {app!r}")
        self._current_app = app

    def freeze(self) -> None:
        """Refuse further :meth:`add_app` calls."""
        self._frozen = True

    def _bind_root(self, app: Application) -> None:
        """``add_app(app)`` then ``freeze()``: what the root application does per request."""
        if self._frozen:
            raise RuntimeError("Cannot change apps stack after .freeze() call")
        if self._current_app is None:
            self._current_app = app
        self._apps = (app, *self._apps) if self._apps else (app,)
        self._frozen = True

    def __repr__(self) -> str:
        return f"<MatchInfo {super().__repr__()}: {self._route}>"


class MatchInfoError(UrlMappingMatchInfo):
    """The match info of a request no route accepts (404 or 405)."""

    __slots__ = ("_exception",)

    def __init__(self, http_exception: HTTPException) -> None:
        self._exception = http_exception
        super().__init__({}, SystemRoute(http_exception))

    @property
    def http_exception(self) -> HTTPException:
        return self._exception

    def __repr__(self) -> str:
        return f"<MatchInfoError {self._exception.status}: {self._exception.reason}>"
