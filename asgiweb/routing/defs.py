"""Route definitions: ``web.get(...)`` and friends, and the RouteTableDef decorators."""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from .. import hdrs
from ..abc import AbstractView

if TYPE_CHECKING:
    from .dispatcher import UrlDispatcher
    from .routes import AbstractRoute

__all__ = [
    "AbstractRouteDef",
    "RouteDef",
    "RouteTableDef",
    "StaticDef",
    "route",
    "head",
    "options",
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "view",
    "static",
]


class AbstractRouteDef(abc.ABC):
    """Something :meth:`UrlDispatcher.add_routes` can register."""

    @abc.abstractmethod
    def register(self, router: UrlDispatcher) -> list[AbstractRoute]:
        """Add this definition to ``router``; returns the routes made."""


class RouteDef(AbstractRouteDef):
    """A method, a path, a handler and the keyword arguments for ``add_route``."""

    __slots__ = ("method", "path", "handler", "kwargs")

    def __init__(self, method: str, path: str, handler: Any, kwargs: dict[str, Any]) -> None:
        self.method = method
        self.path = path
        self.handler = handler
        self.kwargs = kwargs

    def __repr__(self) -> str:
        info = "".join(f", {name}={value!r}" for name, value in sorted(self.kwargs.items()))
        return f"<RouteDef {self.method} {self.path} -> {self.handler.__name__!r}{info}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RouteDef):
            return NotImplemented
        return (self.method, self.path, self.handler, self.kwargs) == (
            other.method,
            other.path,
            other.handler,
            other.kwargs,
        )

    __hash__ = None  # type: ignore[assignment]

    def register(self, router: UrlDispatcher) -> list[AbstractRoute]:
        if self.method in hdrs.METH_ALL:
            reg = getattr(router, "add_" + self.method.lower())
            return [reg(self.path, self.handler, **self.kwargs)]
        return [router.add_route(self.method, self.path, self.handler, **self.kwargs)]


def route(method: str, path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A route for ``method`` requests to ``path``; ``kwargs`` go to ``add_route``."""
    return RouteDef(method, path, handler, kwargs)


def head(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A route for HEAD requests to ``path``."""
    return route(hdrs.METH_HEAD, path, handler, **kwargs)


def options(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A route for OPTIONS requests to ``path``."""
    return route(hdrs.METH_OPTIONS, path, handler, **kwargs)


def get(
    path: str, handler: Any, *, name: str | None = None, allow_head: bool = True, **kwargs: Any
) -> RouteDef:
    """A route for GET requests to ``path``, and for HEAD too unless ``allow_head`` is false."""
    return route(hdrs.METH_GET, path, handler, name=name, allow_head=allow_head, **kwargs)


def post(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A route for POST requests to ``path``."""
    return route(hdrs.METH_POST, path, handler, **kwargs)


def put(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A route for PUT requests to ``path``."""
    return route(hdrs.METH_PUT, path, handler, **kwargs)


def patch(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A route for PATCH requests to ``path``."""
    return route(hdrs.METH_PATCH, path, handler, **kwargs)


def delete(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A route for DELETE requests to ``path``."""
    return route(hdrs.METH_DELETE, path, handler, **kwargs)


def view(path: str, handler: type[AbstractView], **kwargs: Any) -> RouteDef:
    """A route for every method to ``path``, handled by the class-based view ``handler``."""
    return route(hdrs.METH_ANY, path, handler, **kwargs)


_Deco = Callable[[Any], Any]


class RouteTableDef(Sequence[AbstractRouteDef]):
    """A list of route definitions filled by decorators."""

    def __init__(self) -> None:
        self._items: list[AbstractRouteDef] = []

    def __repr__(self) -> str:
        return f"<RouteTableDef count={len(self._items)}>"

    @overload
    def __getitem__(self, index: int) -> AbstractRouteDef: ...
    @overload
    def __getitem__(self, index: slice) -> list[AbstractRouteDef]: ...
    def __getitem__(self, index: int | slice) -> AbstractRouteDef | list[AbstractRouteDef]:
        return self._items[index]

    def __iter__(self) -> Iterator[AbstractRouteDef]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def route(self, method: str, path: str, **kwargs: Any) -> _Deco:
        """Decorator: add the handler for ``method`` requests to ``path``."""

        def inner(handler: Any) -> Any:
            self._items.append(RouteDef(method, path, handler, kwargs))
            return handler

        return inner

    def head(self, path: str, **kwargs: Any) -> _Deco:
        """Decorator: add the handler for HEAD requests to ``path``."""
        return self.route(hdrs.METH_HEAD, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> _Deco:
        """Decorator: add the handler for GET, and HEAD unless ``allow_head`` is false."""
        return self.route(hdrs.METH_GET, path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> _Deco:
        """Decorator: add the handler for POST requests to ``path``."""
        return self.route(hdrs.METH_POST, path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> _Deco:
        """Decorator: add the handler for PUT requests to ``path``."""
        return self.route(hdrs.METH_PUT, path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> _Deco:
        """Decorator: add the handler for PATCH requests to ``path``."""
        return self.route(hdrs.METH_PATCH, path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> _Deco:
        """Decorator: add the handler for DELETE requests to ``path``."""
        return self.route(hdrs.METH_DELETE, path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> _Deco:
        """Decorator: add the handler for OPTIONS requests to ``path``."""
        return self.route(hdrs.METH_OPTIONS, path, **kwargs)

    def view(self, path: str, **kwargs: Any) -> _Deco:
        """Decorator: add the class-based view for every method at ``path``."""
        return self.route(hdrs.METH_ANY, path, **kwargs)

    def static(self, prefix: str, path: str | os.PathLike[str], **kwargs: Any) -> None:
        """Add a :class:`StaticDef`; see :meth:`UrlDispatcher.add_static`."""
        self._items.append(StaticDef(prefix, path, kwargs))


class StaticDef(AbstractRouteDef):
    """A URL prefix, a directory and the keyword arguments for ``add_static``."""

    __slots__ = ("prefix", "path", "kwargs")

    def __init__(self, prefix: str, path: str | os.PathLike[str], kwargs: dict[str, Any]) -> None:
        self.prefix = prefix
        self.path = path
        self.kwargs = kwargs

    def __repr__(self) -> str:
        info = "".join(f", {name}={value!r}" for name, value in sorted(self.kwargs.items()))
        return f"<StaticDef {self.prefix} -> {self.path}{info}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StaticDef):
            return NotImplemented
        return (self.prefix, self.path, self.kwargs) == (other.prefix, other.path, other.kwargs)

    __hash__ = None  # type: ignore[assignment]

    def register(self, router: UrlDispatcher) -> list[AbstractRoute]:
        resource = router.add_static(self.prefix, self.path, **self.kwargs)
        return list(resource)


def static(prefix: str, path: str | os.PathLike[str], **kwargs: Any) -> StaticDef:
    """A :class:`StaticDef` for :meth:`UrlDispatcher.add_static`."""
    return StaticDef(prefix, path, kwargs)
