"""Resources: what a URL path matches, and the routes (one per method) it holds."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sized
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from yarl import URL

from .. import hdrs
from .routes import AbstractRoute, ExpectHandler, ResourceRoute, UrlMappingMatchInfo

if TYPE_CHECKING:
    from ..request import Request

__all__ = ["AbstractResource", "Resource", "PlainResource", "DynamicResource"]

# One `{name}` or `{name:regex}` part; the regex may hold one level of `{m,n}` braces.
_VAR_RE = re.compile(r"\{(?P<var>[_a-zA-Z][_a-zA-Z0-9]*)(?::(?P<re>(?:[^{}]|\{[^{}]*\})*))?\}")
_PART_RE = re.compile(r"(\{[_a-zA-Z][^{}]*(?:\{[^{}]*\}[^{}]*)*\})")
_DEFAULT_PART = "[^{}/]+"
# RFC 3986 pchar minus "/": what stays unescaped in a path segment built by url_for.
_SEGMENT_SAFE = "!$&'()*+,;=:@"
# What a dynamic part's value keeps unescaped: a path's characters, "/" included, as
# aiohttp (and yarl's path quoting) keep it; every "%" is escaped, so "%2F" stays text.
_VALUE_SAFE = _SEGMENT_SAFE + "/"
# A "%" that does not start an escape stands for itself.
_LONE_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def quote_value(value: str) -> str:
    """A dynamic part's value as url_for writes it: ``"1 2/x%2F"`` -> ``"1%202/x%252F"``."""
    return quote(value, safe=_VALUE_SAFE)


def requote_path(value: str) -> str:
    """The literal text of a route path as url_for writes it: percent-encoded, keeping
    the ``%XX`` escapes it already has, as aiohttp does.

    Routing compares the literal text itself with the request's decoded path (where
    ``%2F`` and ``%25`` stay encoded), so ``"/a %2Fb"`` matches ``/a%20%2Fb`` and
    url_for writes that.
    """
    return _LONE_PERCENT_RE.sub("%25", quote(value, safe=_SEGMENT_SAFE + "/%"))


def unquote_safe(value: str) -> str:
    # path_safe keeps %2F and %25 encoded so they cannot split segments; undo that in values.
    if "%" not in value:
        return value
    return value.replace("%2F", "/").replace("%2f", "/").replace("%25", "%")


class AbstractResource(Sized):
    """Something the router can match a request path against."""

    def __init__(self, *, name: str | None = None) -> None:
        self._name = name

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def canonical(self) -> str:
        """The path pattern this resource was registered with."""
        raise NotImplementedError

    def url_for(self, **kwargs: str) -> URL:
        """Build a URL for this resource."""
        raise NotImplementedError

    async def resolve(self, request: Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        """Match ``request``: ``(match_info, allowed_methods)``."""
        raise NotImplementedError

    def add_prefix(self, prefix: str) -> None:
        """Put ``prefix`` in front of this resource's path (used for sub-apps)."""
        raise NotImplementedError

    def get_info(self) -> dict[str, Any]:
        raise NotImplementedError

    def freeze(self) -> None:
        pass

    def raw_match(self, path: str) -> bool:
        """True when ``path`` is this resource's own pattern."""
        raise NotImplementedError

    def index_key(self) -> str | None:
        """The fixed path prefix the router indexes this resource under; None: not indexed."""
        return None

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(())

    def __len__(self) -> int:
        return 0


class Resource(AbstractResource):
    """A resource holding at most one route per method (and an optional ``*`` route)."""

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._routes: list[ResourceRoute] = []
        self._by_method: dict[str, ResourceRoute] = {}
        self._any_route: ResourceRoute | None = None

    def add_route(
        self, method: str, handler: Any, *, expect_handler: ExpectHandler | None = None
    ) -> ResourceRoute:
        """Add a route for ``method`` (``*`` for any); a second one for a method is an error,
        and so is any route after a ``*`` one (it could never be reached)."""
        method = method.upper()
        if method in self._by_method or self._any_route is not None:
            raise RuntimeError(
                f"Added route will never be executed, method {method} is already registered"
            )
        route = ResourceRoute(method, handler, expect_handler=expect_handler, resource=self)
        self.register_route(route)
        return route

    def register_route(self, route: ResourceRoute) -> None:
        self._routes.append(route)
        if route.method == hdrs.METH_ANY:
            self._any_route = route
        else:
            self._by_method[route.method] = route

    def _match(self, path: str) -> dict[str, str] | None:
        raise NotImplementedError

    def _route_for(self, method: str) -> ResourceRoute | None:
        return self._by_method.get(method) or self._any_route

    def allowed_methods(self) -> set[str]:
        return set(self._by_method)

    async def resolve(self, request: Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        match_dict = self._match(route_path(request))
        if match_dict is None:
            return None, set()
        route = self._route_for(request.method)
        if route is not None:
            return UrlMappingMatchInfo(match_dict, route), self.allowed_methods()
        return None, self.allowed_methods()

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._routes)


def route_path(request: Request) -> str:
    """The path routing matches against."""
    path = request._head.path
    # Undecoded paths match as they are; otherwise decode, keeping %2F and %25 encoded
    # so that a decoded slash can never split a segment.
    return request.rel_url.path_safe if "%" in path else path


class PlainResource(Resource):
    """A fixed path."""

    def __init__(self, path: str, *, name: str | None = None) -> None:
        super().__init__(name=name)
        assert not path or path.startswith("/")
        self._path = path

    @property
    def canonical(self) -> str:
        return self._path

    def freeze(self) -> None:
        if not self._path:
            self._path = "/"

    def add_prefix(self, prefix: str) -> None:
        self._path = prefix + self._path

    def _match(self, path: str) -> dict[str, str] | None:
        return {} if self._path == path else None

    def raw_match(self, path: str) -> bool:
        return self._path == path

    def index_key(self) -> str:
        return self._path or "/"

    def get_info(self) -> dict[str, Any]:
        return {"path": self._path}

    def url_for(self) -> URL:  # type: ignore[override]
        return URL.build(path=requote_path(self._path), encoded=True)

    def __repr__(self) -> str:
        name = f"'{self.name}' " if self.name is not None else ""
        return f"<PlainResource {name} {self._path}>"


class DynamicResource(Resource):
    """A path with ``{name}`` or ``{name:regex}`` parts."""

    def __init__(self, path: str, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._orig_path = path
        pattern = ""
        # The URL form (url_for, canonical) and the literal form requests are matched in.
        formatter = ""
        match_formatter = ""
        for part in _PART_RE.split(path):
            match = _VAR_RE.fullmatch(part)
            if match:
                regex = match.group("re") or _DEFAULT_PART
                pattern += f"(?P<{match.group('var')}>{regex})"
                formatter += "{" + match.group("var") + "}"
                match_formatter += "{" + match.group("var") + "}"
                continue
            if "{" in part or "}" in part:
                raise ValueError(f"Invalid path '{path}'['{part}']")
            pattern += re.escape(part)
            formatter += requote_path(part)
            match_formatter += part
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"Bad pattern '{pattern}': {exc}") from None
        assert compiled.pattern.startswith(re.escape("/"))
        self._pattern = compiled
        self._formatter = formatter
        self._match_formatter = match_formatter

    @property
    def canonical(self) -> str:
        return self._formatter

    @property
    def match_canonical(self) -> str:
        """The formatter in the form requests are matched in."""
        return self._match_formatter

    def add_prefix(self, prefix: str) -> None:
        self._pattern = re.compile(re.escape(prefix) + self._pattern.pattern)
        self._formatter = requote_path(prefix) + self._formatter
        self._match_formatter = prefix + self._match_formatter
        self._orig_path = prefix + self._orig_path

    def _match(self, path: str) -> dict[str, str] | None:
        match = self._pattern.fullmatch(path)
        if match is None:
            return None
        return {key: unquote_safe(value) for key, value in match.groupdict().items()}

    def raw_match(self, path: str) -> bool:
        return self._orig_path == path

    def index_key(self) -> str:
        fixed = self._match_formatter.partition("{")[0]
        return fixed.rpartition("/")[0] or "/"

    def get_info(self) -> dict[str, Any]:
        return {"formatter": self._formatter, "pattern": self._pattern}

    def url_for(self, **parts: str) -> URL:
        quoted = {key: quote_value(str(value)) for key, value in parts.items()}
        return URL.build(path=self._formatter.format_map(quoted), encoded=True)

    def __repr__(self) -> str:
        name = f"'{self.name}' " if self.name is not None else ""
        return f"<DynamicResource {name} {self._formatter}>"
