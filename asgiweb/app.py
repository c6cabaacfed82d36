"""Application: shared state, router, middlewares, signals and the request entry point."""

from __future__ import annotations

import asyncio
import logging
import sys
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, MutableMapping
from contextlib import suppress
from functools import lru_cache, partial, update_wrapper
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final, get_args, overload

from .helpers import web_logger
from .middlewares import middleware
from .request import Request
from .routing import AbstractResource, SystemRoute, UrlDispatcher, UrlMappingMatchInfo
from .routing.subapps import (
    Domain,
    MaskDomain,
    MatchedSubAppResource,
    PrefixedSubAppResource,
)
from .signals import FrozenList, Signal

if TYPE_CHECKING:
    from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope

    from .response import StreamResponse
    from .routing import AbstractRoute, AbstractRouteDef
    from .streams import StreamReader
    from .transport import RequestHead, ResponseSink

__all__ = ["Application", "AppKey", "CleanupError", "NotAppKeyWarning"]

_T = TypeVar("_T")


class NotAppKeyWarning(UserWarning):
    """A plain string was used as an application key; :class:`AppKey` is type-checked."""


@final
class AppKey(Generic[_T]):
    """A typed key for application state: ``app[KEY]`` has the type ``KEY`` was made with."""

    __slots__ = ("_name", "_t", "__orig_class__")

    def __init__(self, name: str, t: type[_T] | None = None) -> None:
        # Qualify the name with the defining module so keys with equal names stay apart
        # in reprs and error messages.
        frame = sys._getframe(1)
        module = frame.f_globals.get("__name__", "")
        self._name = f"{module}.{name}" if module and module != "__main__" else name
        self._t = t

    def __lt__(self, other: object) -> bool:
        if isinstance(other, AppKey):
            return self._name < other._name
        return True  # keys sort before anything else, so mixed keys still sort

    def __repr__(self) -> str:
        t = self._t
        if t is None:
            with suppress(AttributeError):
                t = get_args(self.__orig_class__)[0]  # type: ignore[attr-defined]
        if t is None:
            t_repr = "<<Unknown>>"
        elif isinstance(t, type):
            t_repr = (
                t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
            )
        else:
            t_repr = repr(t)
        return f"<AppKey({self._name}, type={t_repr})>"


Middleware = Callable[..., Any]


_R = TypeVar("_R", bound=AbstractResource)


def _forward_signal(signal: Signal, subapp: Application) -> Callable[[Application], Any]:
    async def forward(app: Application) -> None:
        await signal.send(subapp)

    return forward


def _current_app_setter(app: Application) -> Middleware:
    """The innermost middleware of each application: ``request.app`` is that application
    while its middlewares run."""

    @middleware
    async def set_current_app(request: Request, handler: Any) -> StreamResponse:
        match_info = request.match_info
        previous = match_info.current_app
        match_info.current_app = app
        try:
            response: StreamResponse = await handler(request)
            return response
        finally:
            match_info.current_app = previous

    return set_current_app


async def _build_chain(handler: Any, apps: tuple[Application, ...]) -> Any:
    for app in apps[::-1]:
        for mw, new_style in app._middleware_handlers:
            if new_style:
                handler = update_wrapper(partial(mw, handler=handler), handler)
            else:
                handler = await mw(app, handler)
    return handler


@lru_cache(maxsize=1024)
def _cached_chain(handler: Any, apps: tuple[Application, ...]) -> Any:
    """The middleware chain of a route: built once, not per request."""
    for app in apps[::-1]:
        for mw, _ in app._middleware_handlers:
            handler = update_wrapper(partial(mw, handler=handler), handler)
    return handler


class CleanupError(RuntimeError):
    """One or more cleanup contexts failed; ``args[1]`` lists the errors."""

    @property
    def exceptions(self) -> list[BaseException]:
        return self.args[1]  # type: ignore[no-any-return]


class CleanupContext(FrozenList):
    """Async generators run to their first ``yield`` at startup and finished at cleanup."""

    def __init__(self) -> None:
        super().__init__()
        self._exits: list[AsyncIterator[None]] = []

    async def _on_startup(self, app: Application) -> None:
        for factory in self:
            iterator = factory(app).__aiter__()
            await iterator.__anext__()
            self._exits.append(iterator)

    async def _on_cleanup(self, app: Application) -> None:
        errors: list[BaseException] = []
        for iterator in reversed(self._exits):
            try:
                await iterator.__anext__()
            except StopAsyncIteration:
                continue
            except (Exception, BaseExceptionGroup) as exc:
                errors.append(exc)
            else:
                errors.append(RuntimeError(f"{iterator!r} has more than one 'yield'"))
        self._exits.clear()
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise CleanupError("Multiple errors on cleanup stage", errors)


class Application(MutableMapping[str | AppKey[Any], Any]):
    """A web application: a router, middlewares, signals and a mapping for shared state.

    The object is also an ASGI application: ``uvicorn module:app`` serves it.
    """

    def __init__(
        self,
        *,
        logger: logging.Logger = web_logger,
        router: UrlDispatcher | None = None,
        middlewares: Iterable[Middleware] = (),
        handler_args: dict[str, Any] | None = None,
        client_max_size: int = 1024**2,
        loop: Any = None,
        debug: Any = ...,
    ) -> None:
        if loop is not None:
            warnings.warn(
                "loop argument is deprecated and ignored: the running loop is used",
                DeprecationWarning,
                stacklevel=2,
            )
        if router is None:
            router = UrlDispatcher()
        self._router = router
        self._logger = logger
        self._state: dict[str | AppKey[Any], Any] = {}
        self._middlewares: FrozenList = FrozenList(middlewares)
        self._handler_args = handler_args
        self._client_max_size = client_max_size
        self._debug = debug
        self._frozen = False
        self._pre_frozen = False
        self._run_middlewares = True
        self._middleware_handlers: tuple[tuple[Middleware, bool], ...] = ()
        self._has_legacy_middlewares = False
        self._has_prepare_hooks = False
        self._any_prepare_hooks = False
        self._subapps: list[Application] = []
        self._on_response_prepare = Signal(self)
        self._on_startup = Signal(self)
        self._on_shutdown = Signal(self)
        self._on_cleanup = Signal(self)
        self._cleanup_ctx = CleanupContext()
        self._on_startup.append(self._cleanup_ctx._on_startup)
        self._on_cleanup.append(self._cleanup_ctx._on_cleanup)
        self._asgi: Any = None
        router.post_init(self)

    def __init_subclass__(cls: type[Application]) -> None:
        raise TypeError(f"Inheritance class {cls.__name__} from web.Application is forbidden")

    # -- the mapping ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    def _check_frozen(self) -> None:
        if self._frozen:
            raise RuntimeError("Changing state of started or joined application is forbidden")

    @overload
    def __getitem__(self, key: AppKey[_T]) -> _T: ...
    @overload
    def __getitem__(self, key: str) -> Any: ...
    def __getitem__(self, key: str | AppKey[_T]) -> Any:
        return self._state[key]

    def __setitem__(self, key: str | AppKey[Any], value: Any) -> None:
        self._check_frozen()
        if not isinstance(key, AppKey):
            warnings.warn(
                "It is recommended to use web.AppKey instances for keys.",
                NotAppKeyWarning,
                stacklevel=2,
            )
        self._state[key] = value

    def __delitem__(self, key: str | AppKey[Any]) -> None:
        self._check_frozen()
        del self._state[key]

    def __len__(self) -> int:
        return len(self._state)

    def __iter__(self) -> Iterator[str | AppKey[Any]]:
        return iter(self._state)

    def __bool__(self) -> bool:
        return True

    def __copy__(self) -> Application:
        raise NotImplementedError("Copy of Application is forbidden")

    def __repr__(self) -> str:
        return f"<Application 0x{id(self):x}>"

    # -- properties -------------------------------------------------------------------------
    @property
    def router(self) -> UrlDispatcher:
        return self._router

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    @property
    def debug(self) -> bool:
        return bool(self._debug) if self._debug is not ... else False

    @property
    def middlewares(self) -> FrozenList:
        return self._middlewares

    @property
    def frozen(self) -> bool:
        return self._frozen

    @property
    def on_response_prepare(self) -> Signal:
        return self._on_response_prepare

    @property
    def on_startup(self) -> Signal:
        return self._on_startup

    @property
    def on_shutdown(self) -> Signal:
        return self._on_shutdown

    @property
    def on_cleanup(self) -> Signal:
        return self._on_cleanup

    @property
    def cleanup_ctx(self) -> CleanupContext:
        return self._cleanup_ctx

    def add_routes(self, routes: Iterable[AbstractRouteDef]) -> list[AbstractRoute]:
        """Register route definitions on the router."""
        return self._router.add_routes(routes)

    def add_subapp(self, prefix: str, subapp: Application) -> PrefixedSubAppResource:
        """Serve ``subapp`` under the path ``prefix``; its routes' URLs gain the prefix."""
        if not prefix.startswith("/"):
            raise ValueError("Prefix must start with '/'")
        prefix = prefix.rstrip("/")
        if not prefix:
            raise ValueError("Prefix cannot be empty")
        return self._add_subapp(lambda: PrefixedSubAppResource(prefix, subapp), subapp)

    def add_domain(self, domain: str, subapp: Application) -> MatchedSubAppResource:
        """Serve ``subapp`` for requests whose Host is ``domain`` (``*.`` masks allowed)."""
        if not isinstance(domain, str):
            raise TypeError("Domain must be str")
        rule = MaskDomain(domain) if "*" in domain else Domain(domain)
        return self._add_subapp(lambda: MatchedSubAppResource(rule, subapp), subapp)

    def _add_subapp(self, make_resource: Callable[[], _R], subapp: Application) -> _R:
        if self._frozen:
            raise RuntimeError("Cannot add sub application to frozen application")
        if subapp._frozen:
            raise RuntimeError("Cannot add frozen application")
        resource = make_resource()
        self._router.register_resource(resource)
        for name in ("on_startup", "on_shutdown", "on_cleanup"):
            getattr(self, name).append(_forward_signal(getattr(subapp, name), subapp))
        self._subapps.append(subapp)
        subapp.pre_freeze()
        return resource

    # -- lifecycle --------------------------------------------------------------------------
    def pre_freeze(self) -> None:
        if self._pre_frozen:
            return
        self._pre_frozen = True
        self._middlewares.freeze()
        self._router.freeze()
        self._on_response_prepare.freeze()
        self._cleanup_ctx.freeze()
        self._on_startup.freeze()
        self._on_shutdown.freeze()
        self._on_cleanup.freeze()
        self._has_prepare_hooks = bool(self._on_response_prepare)
        self._any_prepare_hooks = self._has_prepare_hooks or any(
            app._any_prepare_hooks for app in self._subapps
        )
        self._middleware_handlers = tuple(self._prepare_middlewares())
        self._has_legacy_middlewares = any(not new for _, new in self._middleware_handlers)
        self._run_middlewares = bool(self._middlewares) or any(
            app._run_middlewares for app in self._subapps
        )
        for subapp in self._subapps:
            subapp.pre_freeze()

    def _prepare_middlewares(self) -> Iterator[tuple[Middleware, bool]]:
        for mw in reversed(self._middlewares):
            new_style = getattr(mw, "__middleware_version__", None) == 1
            if not new_style:
                warnings.warn(
                    f"old-style middleware {mw!r} (a factory of (app, handler)) is deprecated; "
                    "decorate a (request, handler) coroutine with @web.middleware instead",
                    DeprecationWarning,
                    stacklevel=3,
                )
            yield mw, new_style
        yield _current_app_setter(self), True

    def freeze(self) -> None:
        """Refuse further changes to routes, middlewares, signals and state."""
        if self._frozen:
            return
        self.pre_freeze()
        self._frozen = True
        for subapp in self._subapps:
            subapp.freeze()

    async def startup(self) -> None:
        """Run ``on_startup`` (cleanup contexts first, as aiohttp does)."""
        await self.on_startup.send(self)

    async def shutdown(self) -> None:
        """Run ``on_shutdown``."""
        await self.on_shutdown.send(self)

    async def cleanup(self) -> None:
        """Run ``on_cleanup`` (cleanup contexts first)."""
        if self.on_cleanup.frozen:
            await self.on_cleanup.send(self)
        else:
            # Cleanup of an application that never started still finishes its contexts.
            await self._cleanup_ctx._on_cleanup(self)

    # -- handling ---------------------------------------------------------------------------
    async def _handle(self, request: Request) -> StreamResponse:
        router = self._router
        match_info = None
        if router.__class__ is UrlDispatcher:
            match_info = router.resolve_nowait(request)
        if match_info is None:
            match_info = await router.resolve(request)
        if match_info.__class__ is UrlMappingMatchInfo:
            match_info._bind_root(self)
        else:
            match_info.add_app(self)
            match_info.freeze()
        request._match_info = match_info
        if self._any_prepare_hooks:
            request._prepare_hooks = any(app._has_prepare_hooks for app in match_info.apps)
        if request._head.expect:
            expect_response = await match_info.expect_handler(request)
            if expect_response is not None:
                return expect_response
        handler: Any = match_info.handler
        if self._run_middlewares:
            apps = match_info.apps
            if isinstance(match_info.route, SystemRoute) or any(
                app._has_legacy_middlewares for app in apps
            ):
                handler = await _build_chain(handler, apps)
            else:
                handler = _cached_chain(handler, apps)
        response: StreamResponse = await handler(request)
        return response

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Serve this application over ASGI (``http`` and ``lifespan`` scopes)."""
        asgi = self._asgi
        if asgi is None:
            from .asgi import ASGIAdapter

            asgi = self._asgi = ASGIAdapter.for_app(self)
        if scope["type"] == "http":
            await asgi.http(scope, receive, send)  # the common case, one call shorter
        else:
            await asgi(scope, receive, send)

    def _make_request(
        self,
        head: RequestHead,
        payload: StreamReader,
        sink: ResponseSink,
        task: asyncio.Task[Any] | None = None,
    ) -> Request:
        return Request(head, payload, sink, self._client_max_size, task)  # positional: hot
