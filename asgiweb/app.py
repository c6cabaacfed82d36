"""Application: shared state, router, middlewares, signals and the request entry point."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    MutableMapping,
)
from contextlib import AbstractAsyncContextManager, suppress
from functools import lru_cache, partial, update_wrapper
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .helpers import web_logger
from .keys import AppKey, BaseKey, RequestKey, ResponseKey
from .lifecycle import ServedApplication
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

__all__ = [
    "Application",
    "AppKey",
    "BaseKey",
    "CleanupError",
    "NotAppKeyWarning",
    "RequestKey",
    "ResponseKey",
]

_T = TypeVar("_T")

_NOT_APP_KEY_MESSAGE = (
    "It is recommended to use web.AppKey instances for keys.\n"
    "https://docs.aiohttp.org/en/stable/web_advanced.html#application-s-config"
)

# The deprecated ``make_handler`` hands out the native server's protocol factory. The core
# never imports the native server; the native server puts its ``Server`` class here when it
# is imported (``asgiweb.web`` imports it).
protocol_factory_class: Callable[..., Any] | None = None


def _is_aiohttp_key(key: object) -> bool:
    """An ``aiohttp.web.AppKey`` (an extension that imported aiohttp itself): a typed key too."""
    cls = type(key)
    return cls.__name__ == "AppKey" and cls.__module__ == "aiohttp.helpers"


class NotAppKeyWarning(UserWarning):
    """A plain string was used as an application key; :class:`AppKey` is type-checked."""


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


class _GeneratorContext(AbstractAsyncContextManager[None]):
    """An async generator with one ``yield`` as a context manager: the code before the
    ``yield`` runs at startup, the code after it at cleanup."""

    def __init__(self, iterator: AsyncIterator[None]) -> None:
        self._iterator = iterator

    async def __aenter__(self) -> None:
        await self._iterator.__anext__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._iterator.__anext__()
        except StopAsyncIteration:
            return
        # Finish the generator now: left suspended, it would be closed by the garbage
        # collector, which runs its remaining code outside any event loop.
        with suppress(Exception):
            await self._iterator.aclose()  # type: ignore[attr-defined]
        raise RuntimeError(f"{self._iterator!r} has more than one 'yield'")


class CleanupContext(FrozenList):
    """Factories of cleanup contexts, entered at startup and exited, in reverse, at cleanup.

    A factory takes the application and returns an async context manager (say, a
    function decorated with :func:`contextlib.asynccontextmanager`) or an async
    generator that yields once.
    """

    def __init__(self) -> None:
        super().__init__()
        self._exits: list[AbstractAsyncContextManager[Any]] = []

    async def _on_startup(self, app: Application) -> None:
        for factory in self:
            context = factory(app)
            if not (hasattr(context, "__aenter__") and hasattr(context, "__aexit__")):
                context = _GeneratorContext(context.__aiter__())
            await context.__aenter__()
            self._exits.append(context)

    async def _on_cleanup(self, app: Application) -> None:
        errors: list[BaseException] = []
        for context in reversed(self._exits):
            try:
                await context.__aexit__(None, None, None)
            except (Exception, asyncio.CancelledError) as exc:
                # A cancelled cleanup is one more failure: the others still run.
                errors.append(exc)
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
        else:
            warnings.warn("router argument is deprecated", DeprecationWarning, stacklevel=2)
        self._router = router
        self._loop = loop
        self.logger = logger
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
        # `app()` goes through type(app).__call__ (sync, so that `app()` can return the
        # app), but ASGI servers decide "ASGI 3 or WSGI?" by inspecting `app.__call__`;
        # this instance attribute shows them a coroutine function that does the same.
        self.__call__ = self._asgi_call  # type: ignore[method-assign, assignment]
        router.post_init(self)

    def __init_subclass__(cls: type[Application]) -> None:
        warnings.warn(
            f"Inheritance class {cls.__name__} from web.Application is discouraged",
            DeprecationWarning,
            stacklevel=3,  # the class statement
        )

    # -- the mapping ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    def _check_frozen(self) -> None:
        # aiohttp 3.x only deprecates state changes once started (handlers that keep a
        # value in app state, as its own docs' testing example does, still work).
        if self._frozen:
            warnings.warn(
                "Changing state of started or joined application is deprecated",
                DeprecationWarning,
                stacklevel=3,
            )

    @overload
    def __getitem__(self, key: AppKey[_T]) -> _T: ...
    @overload
    def __getitem__(self, key: str) -> Any: ...
    def __getitem__(self, key: str | AppKey[_T]) -> Any:
        return self._state[key]

    def __setitem__(self, key: str | AppKey[Any], value: Any) -> None:
        self._check_frozen()
        if not isinstance(key, AppKey) and not _is_aiohttp_key(key):
            warnings.warn(
                _NOT_APP_KEY_MESSAGE,
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
        """The application's :class:`UrlDispatcher`."""
        return self._router

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop given to the constructor, if any (deprecated: use the running loop)."""
        warnings.warn("loop property is deprecated", DeprecationWarning, stacklevel=2)
        return self._loop  # type: ignore[no-any-return]

    @property
    def debug(self) -> bool:
        """The ``debug`` constructor argument; False when not given."""
        return bool(self._debug) if self._debug is not ... else False

    @property
    def middlewares(self) -> FrozenList:
        """The middlewares, in the order given; the first is the outermost."""
        return self._middlewares

    @property
    def pre_frozen(self) -> bool:
        """Routes, middlewares and signals are fixed (the app was added as a sub-app)."""
        return self._pre_frozen

    @property
    def frozen(self) -> bool:
        """True once the application is frozen for serving: routes and signals are fixed."""
        return self._frozen

    @property
    def on_response_prepare(self) -> Signal:
        """Signal sent with ``(request, response)`` before a response's head goes out."""
        return self._on_response_prepare

    @property
    def on_startup(self) -> Signal:
        """Signal sent with the application when serving starts."""
        return self._on_startup

    @property
    def on_shutdown(self) -> Signal:
        """Signal sent with the application when serving stops, before cleanup."""
        return self._on_shutdown

    @property
    def on_cleanup(self) -> Signal:
        """Signal sent with the application last; cleanup contexts are resumed here."""
        return self._on_cleanup

    @property
    def cleanup_ctx(self) -> CleanupContext:
        """Async generators run to their ``yield`` at startup and resumed at cleanup."""
        return self._cleanup_ctx

    def add_routes(self, routes: Iterable[AbstractRouteDef]) -> list[AbstractRoute]:
        """Register route definitions on the router."""
        return self._router.add_routes(routes)

    def add_subapp(self, prefix: str, subapp: Application) -> PrefixedSubAppResource:
        """Serve ``subapp`` under the path ``prefix``; its routes' URLs gain the prefix."""
        if not isinstance(prefix, str):
            raise TypeError("Prefix must be str")
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
        """Fix routes, middlewares and signals; done to a sub-application when it is added."""
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
                # aiohttp's wording: the issue it cites explains the new style.
                warnings.warn(
                    f'old-style middleware "{mw!r}" deprecated, see #2252',
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

    def make_handler(self, *, access_log_class: Any = None, **kwargs: Any) -> Any:
        """A native-server protocol factory for this app (deprecated: use ``AppRunner``).

        Unlike ``AppRunner``, it does not run ``on_startup``.
        """
        warnings.warn(
            "Application.make_handler(...) is deprecated, use AppRunner API instead",
            DeprecationWarning,
            stacklevel=2,
        )
        server_class = protocol_factory_class
        if server_class is None:
            raise RuntimeError(
                "make_handler() returns the native server's protocol factory: "
                "import asgiweb.web (or native_server) first"
            )
        kwargs.pop("loop", None)  # the running loop is used
        if access_log_class is not None:
            kwargs["access_log_class"] = access_log_class
        served = self.serving()
        served.freeze()
        kwargs.setdefault("debug", served.debug)
        kwargs.update(served.handler_args)
        return server_class(served.handler, request_factory=served.request_factory, **kwargs)

    def serving(self) -> ServedApplication:
        """What a server needs to serve this application: its request entry point and
        its one startup and shutdown sequence (``async with app.serving(): ...``).

        Both transports use it; see :mod:`asgiweb.lifecycle`.
        """
        return ServedApplication(
            self,
            handler=self._handle,  # type: ignore[arg-type]  # takes the Request it is given
            request_factory=self._make_request,
            handler_args=self._handler_args,
        )

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
        handler: Any
        if match_info.__class__ is UrlMappingMatchInfo:
            match_info._bind_root(self)
            handler = match_info._route.handler  # what its handler property reads
        else:
            match_info.add_app(self)
            match_info.freeze()
            handler = match_info.handler
        request._match_info = match_info
        if self._any_prepare_hooks:
            request._prepare_hooks = any(app._has_prepare_hooks for app in match_info.apps)
        if request._head.expect:
            expect_response = await match_info.expect_handler(request)
            if expect_response is not None:
                return expect_response
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

    async def _asgi_call(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        await self(scope, receive, send)

    @overload
    def __call__(self) -> Application: ...
    @overload
    def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> Coroutine[Any, Any, None]: ...
    def __call__(
        self,
        scope: Scope | None = None,
        receive: ASGIReceiveCallable | None = None,
        send: ASGISendCallable | None = None,
    ) -> Any:
        """Serve this application over ASGI (``http`` and ``lifespan`` scopes).

        ``app()`` with no arguments is the application itself, as in aiohttp (which
        gunicorn-style loaders rely on).
        """
        if scope is None:
            return self
        asgi = self._asgi
        if asgi is None:
            from .asgi.adapter import ASGIAdapter

            asgi = self._asgi = ASGIAdapter.for_app(self)
        if scope["type"] == "http":
            return asgi.http(scope, receive, send)  # the common case, one call shorter
        return asgi(scope, receive, send)

    def _make_request(
        self,
        head: RequestHead,
        payload: StreamReader,
        sink: ResponseSink,
        task: asyncio.Task[Any] | None = None,
    ) -> Request:
        return Request(head, payload, sink, self._client_max_size, task)  # positional: hot
