"""UrlDispatcher: the application's router, indexed by fixed path prefix."""

from __future__ import annotations

import keyword
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sized
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .. import hdrs
from ..abc import AbstractRouter, AbstractView
from ..exceptions import HTTPMethodNotAllowed, HTTPNotFound
from .combined import CombinedBucket
from .resources import AbstractResource, DynamicResource, PlainResource, Resource, route_path
from .routes import AbstractRoute, ExpectHandler, MatchInfoError, UrlMappingMatchInfo
from .staticfiles import StaticResource

if TYPE_CHECKING:
    from ..request import Request
    from .defs import AbstractRouteDef

__all__ = ["UrlDispatcher", "ResourcesView", "RoutesView"]

_NAME_SPLIT_RE = re.compile(r"[.:-]")
_NO_VARIABLES: dict[str, str] = {}  # a plain match's (never written: the match copies)
_HAS_VARIABLE = re.compile(r"\{[^{}]*\}")


class ResourcesView(Sized, Iterable[AbstractResource]):
    """A read-only, sized view of the router's resources."""

    def __init__(self, resources: list[AbstractResource]) -> None:
        self._resources = resources

    def __len__(self) -> int:
        return len(self._resources)

    def __iter__(self) -> Iterator[AbstractResource]:
        return iter(self._resources)

    def __contains__(self, resource: object) -> bool:
        return resource in self._resources


class RoutesView(Sized, Iterable[AbstractRoute]):
    """A read-only, sized view of every route of every resource."""

    def __init__(self, resources: list[AbstractResource]) -> None:
        self._routes = [route for resource in resources for route in resource]

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._routes)

    def __contains__(self, route: object) -> bool:
        return route in self._routes


class UrlDispatcher(AbstractRouter, Mapping[str, AbstractResource]):
    """Maps a request to a route: fixed paths first, then variable ones by longest prefix."""

    def __init__(self) -> None:
        super().__init__()
        self._resources: list[AbstractResource] = []
        self._named_resources: dict[str, AbstractResource] = {}
        self._index: dict[str, list[AbstractResource]] = {}
        # Resources that no path prefix can find (domain sub-apps): tried first, in order,
        # so a sub-app for a host owns all of that host's paths, 404 included.
        self._unindexed: list[AbstractResource] = []
        self._combined: dict[str, CombinedBucket] | None = None
        # Index keys holding a resource that is not a plain Resource (static files, sub-apps).
        self._special_keys: set[str] = set()
        # Path -> the PlainResource a walk of the index found first for that exact path:
        # the answer for every method it has a route for, found with one lookup. Only
        # resource paths are keys (bounded); emptied whenever the index changes.
        self._first_plain: dict[str, PlainResource] = {}

    # -- resolution -----------------------------------------------------------------------
    async def resolve(self, request: Request) -> UrlMappingMatchInfo:
        """Find the route for ``request``; a failed match carries a 404 or 405.

        The candidates, in order: the resources no path prefix indexes (domain
        sub-apps), then the index buckets of the path's prefixes, longest first.
        :meth:`resolve_nowait` walks the buckets; here are awaited what it cannot answer
        without awaiting: those first resources, and each bucket it stops at.
        """
        if not self._unindexed:
            found = self.resolve_nowait(request)
            if found is not None:
                return found  # the common case, with no _Walk to make
        walk = _Walk()
        for resource in self._unindexed:
            match_info, methods = await resource.resolve(request)
            if match_info is not None:
                return match_info
            walk.allowed |= methods
        while (found := self.resolve_nowait(request, walk)) is None:
            for resource in self._index[walk.awaited]:  # type: ignore[index]
                match_info, methods = await resource.resolve(request)
                if match_info is not None:
                    return match_info
                walk.allowed |= methods
        return found

    def resolve_nowait(
        self, request: Request, walk: _Walk | None = None
    ) -> UrlMappingMatchInfo | None:
        """:meth:`resolve` where nothing needs awaiting (plain and dynamic resources);
        None when some candidate does. ``walk``, from :meth:`resolve`, resumes past the
        bucket it awaited and records the next one to await."""
        head = request._head
        path = head.path
        if "%" in path:
            path = route_path(request)
        method = head.method
        allowed: set[str] | None
        awaited: str | None
        if walk is None:
            if self._unindexed:
                return None  # domain sub-apps come first, and their rules are awaited
            plain = self._first_plain.get(path)
            if plain is not None:
                # What the walk below would find: no resource before this one in the walk
                # matches the path, so its route for the method, if it has one, wins.
                # (Read afresh: a route may be added to a resource at any time.)
                route = plain._route_for(method)
                if route is not None:
                    return UrlMappingMatchInfo(_NO_VARIABLES, route)
            part = path
            allowed = awaited = None
        else:
            allowed = walk.allowed
            awaited = walk.awaited
            part = path if awaited is None else awaited
        index = self._index
        combined = self._combined
        if combined is None:
            combined = self._combine_buckets()
        special = self._special_keys
        while True:
            bucket = index.get(part)
            if bucket and part is not awaited:
                combo = combined.get(part)
                scan = True
                if combo is not None:
                    match = combo.match(path, method)
                    if match.__class__ is UrlMappingMatchInfo:
                        if not match:  # no variables: a plain resource's, perhaps
                            self._remember_plain(path, match._route._resource)
                        return match
                    scan = match is True  # the path is here, the method is not: collect Allow
                if scan:
                    if part in special:
                        if walk is not None:
                            walk.awaited = part
                        return None  # a prefix or sub-app resource: only resolve() awaits it
                    for resource in bucket:
                        match_dict = resource._match(path)  # type: ignore[attr-defined]
                        if match_dict is None:
                            continue
                        route = resource._route_for(method)  # type: ignore[attr-defined]
                        if route is not None:
                            if allowed is None:  # no resource before it has the path
                                self._remember_plain(path, resource)
                            return UrlMappingMatchInfo(match_dict, route)
                        if allowed is None:
                            allowed = set()
                        allowed |= resource.allowed_methods()  # type: ignore[attr-defined]
            if part == "/" or not part:
                break
            part = part.rpartition("/")[0] or "/"
        return _failed_match(method, allowed or set())

    def _remember_plain(self, path: str, resource: AbstractResource | None) -> None:
        """Note ``resource``, the first in the walk to match ``path``, when it is a plain
        resource: then it is the first for every method (it matches ``path`` alone, and
        only in the path's own bucket, the first the walk visits; a combined bucket's
        match is the first of its resources to match the path)."""
        if resource.__class__ is PlainResource:
            self._first_plain[path] = resource

    def _combine_buckets(self) -> dict[str, CombinedBucket]:
        """One regex per crowded prefix bucket; rebuilt after the index changes."""
        combined: dict[str, CombinedBucket] = {}
        for key, bucket in self._index.items():
            combo = CombinedBucket.build(bucket)
            if combo is not None:
                combined[key] = combo
        self._combined = combined
        return combined

    # -- registration ----------------------------------------------------------------------
    def register_resource(self, resource: AbstractResource) -> None:
        """Add a resource made elsewhere; its name must be unique and a valid identifier."""
        if self.frozen:
            raise RuntimeError("Cannot register a resource into frozen router.")
        name = resource.name
        if name is not None:
            for part in _NAME_SPLIT_RE.split(name):
                if keyword.iskeyword(part) or not part.isidentifier():
                    raise ValueError(
                        f"Incorrect route name {name!r}, the name should be a sequence of "
                        "python identifiers separated by dash, dot or column"
                    )
            if name in self._named_resources:
                raise ValueError(
                    f"Duplicate {name!r}, already handled by {self._named_resources[name]!r}"
                )
            self._named_resources[name] = resource
        self._resources.append(resource)
        self.index_resource(resource)

    def unindex_resource(self, resource: AbstractResource) -> None:
        """Forget where ``resource`` was indexed (before its path changes)."""
        self._combined = None
        self._first_plain = {}
        key = resource.index_key()
        if key is None:
            self._unindexed.remove(resource)
        else:
            self._index[key].remove(resource)

    def index_resource(self, resource: AbstractResource) -> None:
        """Index ``resource`` under its path prefix, where :meth:`resolve` looks."""
        self._combined = None
        self._first_plain = {}
        key = resource.index_key()
        if key is not None and not isinstance(resource, Resource):
            self._special_keys.add(key)
        if key is None:
            self._unindexed.append(resource)
        else:
            self._index.setdefault(key, []).append(resource)

    def add_resource(self, path: str, *, name: str | None = None) -> Resource:
        """The resource for ``path``, reusing the last one when it has the same path and name."""
        if path and not path.startswith("/"):
            raise ValueError("path should be started with / or be empty")
        if self.frozen:
            raise RuntimeError("Cannot register a resource into frozen router.")
        if self._resources:
            last = self._resources[-1]
            if isinstance(last, Resource) and last.name == name and last.raw_match(path):
                return last
        resource: Resource
        if not _HAS_VARIABLE.search(path) and "{" not in path and "}" not in path:
            resource = PlainResource(path, name=name)
        else:
            resource = DynamicResource(path, name=name)
        self.register_resource(resource)
        return resource

    def add_route(
        self,
        method: str,
        path: str,
        handler: Any,
        *,
        name: str | None = None,
        expect_handler: ExpectHandler | None = None,
    ) -> AbstractRoute:
        """Register ``handler`` for ``method`` (``*`` for any) on ``path``."""
        resource = self.add_resource(path, name=name)
        return resource.add_route(method, handler, expect_handler=expect_handler)

    def add_head(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Add a HEAD route for ``path``: :meth:`add_route` with the method filled in."""
        return self.add_route(hdrs.METH_HEAD, path, handler, **kwargs)

    def add_options(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Add an OPTIONS route for ``path``: :meth:`add_route` with the method filled in."""
        return self.add_route(hdrs.METH_OPTIONS, path, handler, **kwargs)

    def add_get(
        self,
        path: str,
        handler: Any,
        *,
        name: str | None = None,
        allow_head: bool = True,
        **kwargs: Any,
    ) -> AbstractRoute:
        """Register a GET route, and a HEAD route named ``<name>-head`` unless ``allow_head``
        is false."""
        resource = self.add_resource(path, name=name)
        if allow_head:
            head_route = resource.add_route(hdrs.METH_HEAD, handler, **kwargs)
            if name is not None:
                head_route._name = f"{name}-head"  # as documented for add_get
        return resource.add_route(hdrs.METH_GET, handler, **kwargs)

    def add_post(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Add a POST route for ``path``: :meth:`add_route` with the method filled in."""
        return self.add_route(hdrs.METH_POST, path, handler, **kwargs)

    def add_put(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Add a PUT route for ``path``: :meth:`add_route` with the method filled in."""
        return self.add_route(hdrs.METH_PUT, path, handler, **kwargs)

    def add_patch(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Add a PATCH route for ``path``: :meth:`add_route` with the method filled in."""
        return self.add_route(hdrs.METH_PATCH, path, handler, **kwargs)

    def add_delete(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Add a DELETE route for ``path``: :meth:`add_route` with the method filled in."""
        return self.add_route(hdrs.METH_DELETE, path, handler, **kwargs)

    def add_view(self, path: str, handler: type[AbstractView], **kwargs: Any) -> AbstractRoute:
        """Register a class-based view for every method."""
        return self.add_route(hdrs.METH_ANY, path, handler, **kwargs)

    def add_routes(self, routes: Iterable[AbstractRouteDef]) -> list[AbstractRoute]:
        """Register route definitions (a list or a RouteTableDef); returns the new routes."""
        registered: list[AbstractRoute] = []
        for route_def in routes:
            registered.extend(route_def.register(self))
        return registered

    def add_static(
        self,
        prefix: str,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        expect_handler: ExpectHandler | None = None,
        chunk_size: int = 256 * 1024,
        show_index: bool = False,
        follow_symlinks: bool = False,
        append_version: bool = False,
    ) -> StaticResource:
        """Serve the files under directory ``path`` (GET and HEAD) at URL ``prefix``."""
        if not prefix.startswith("/"):
            raise ValueError(f"prefix should start with '/': {prefix!r}")
        resource = StaticResource(
            prefix.rstrip("/"),
            path,
            name=name,
            expect_handler=expect_handler,
            chunk_size=chunk_size,
            show_index=show_index,
            follow_symlinks=follow_symlinks,
            append_version=append_version,
        )
        self.register_resource(resource)
        return resource

    # -- views ------------------------------------------------------------------------------
    def resources(self) -> ResourcesView:
        """Every resource, in the order registered."""
        return ResourcesView(self._resources)

    def routes(self) -> RoutesView:
        """Every route of every resource."""
        return RoutesView(self._resources)

    def named_resources(self) -> Mapping[str, AbstractResource]:
        """The resources that have a name, by name (read-only)."""
        return MappingProxyType(self._named_resources)

    def freeze(self) -> None:
        """Refuse further changes, to the router and to each resource."""
        super().freeze()
        for resource in self._resources:
            resource.freeze()

    def __getitem__(self, name: str) -> AbstractResource:
        return self._named_resources[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._named_resources)

    def __len__(self) -> int:
        return len(self._named_resources)

    def __contains__(self, name: object) -> bool:
        return name in self._named_resources


class _Walk:
    """How far :meth:`UrlDispatcher.resolve` has walked: the Allow methods collected,
    and the bucket it awaited last (None before any)."""

    __slots__ = ("allowed", "awaited")

    def __init__(self) -> None:
        self.allowed: set[str] = set()
        self.awaited: str | None = None


def _failed_match(method: str, allowed: set[str]) -> MatchInfoError:
    if allowed:
        return MatchInfoError(HTTPMethodNotAllowed(method, allowed))
    return MatchInfoError(HTTPNotFound())
