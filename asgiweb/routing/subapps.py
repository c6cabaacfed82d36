"""Sub-applications: mounted under a path prefix, or matched by the Host header."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from yarl import URL

from .. import hdrs
from ..exceptions import HTTPBadRequest, HTTPMethodNotAllowed
from .resources import AbstractResource, route_path
from .routes import AbstractRoute, UrlMappingMatchInfo
from .staticfiles import PrefixResource

if TYPE_CHECKING:
    from ..app import Application
    from ..request import Request

__all__ = ["PrefixedSubAppResource", "MatchedSubAppResource", "Domain", "MaskDomain"]


def _resolved(match_info: UrlMappingMatchInfo, app: Application) -> tuple[Any, set[str]]:
    match_info.add_app(app)
    exc = match_info.http_exception
    methods = exc.allowed_methods if isinstance(exc, HTTPMethodNotAllowed) else set()
    return match_info, methods


class _SubAppRoot:
    """What both kinds of sub-application resource share: the app and its routes."""

    _app: Application

    @property
    def app(self) -> Application:
        return self._app

    def url_for(self, *args: str, **kwargs: str) -> URL:
        raise RuntimeError(".url_for() is not supported by sub-application root")

    def __len__(self) -> int:
        return len(self._app.router.routes())

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._app.router.routes())


class PrefixedSubAppResource(_SubAppRoot, PrefixResource):
    """Everything under ``prefix`` goes to a sub-application's router.

    Once the prefix matches, the sub-application answers, 404 included: the parent's
    other resources are not tried.
    """

    def __init__(self, prefix: str, app: Application) -> None:
        super().__init__(prefix)
        self._app = app
        self._add_prefix_to_resources(prefix)

    def _add_prefix_to_resources(self, prefix: str) -> None:
        router = self._app.router
        for resource in router.resources():
            router.unindex_resource(resource)
            resource.add_prefix(prefix)
            router.index_resource(resource)

    def add_prefix(self, prefix: str) -> None:
        super().add_prefix(prefix)
        self._add_prefix_to_resources(prefix)

    def get_info(self) -> dict[str, Any]:
        return {"app": self._app, "prefix": self._prefix}

    async def resolve(self, request: Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        if self._rest(route_path(request)) is None:
            return None, set()
        return _resolved(await self._app.router.resolve(request), self._app)

    def __repr__(self) -> str:
        return f"<PrefixedSubAppResource {self._prefix} -> {self._app!r}>"


class Domain:
    """Matches the Host header exactly (``example.com`` or ``example.com:8080``)."""

    def __init__(self, domain: str) -> None:
        self._domain = self.validation(domain)

    @property
    def canonical(self) -> str:
        return self._domain

    def validation(self, domain: str) -> str:
        if not isinstance(domain, str):
            raise TypeError("Domain must be str")
        domain = domain.rstrip(".").lower()
        if not domain:
            raise ValueError("Domain cannot be empty")
        if "://" in domain:
            raise ValueError("Scheme not supported")
        url = URL("http://" + domain)
        if url.raw_host is None or url.path not in ("", "/") or url.query_string:
            raise ValueError(f"Invalid domain {domain!r}")
        host = url.raw_host
        return host if url.explicit_port is None else f"{host}:{url.port}"

    def match_domain(self, host: str) -> bool:
        return host.lower() == self._domain

    async def match(self, request: Request) -> bool:
        hosts: Sequence[str] = request.headers.getall(hdrs.HOST, ())
        if len(hosts) > 1:
            # Which Host would we route by? Refuse rather than guess (a smuggling vector).
            raise HTTPBadRequest(text="Several Host headers")
        return bool(hosts) and self.match_domain(hosts[0])

    def get_info(self) -> dict[str, Any]:
        return {"domain": self._domain}


class MaskDomain(Domain):
    """Matches a Host header against a mask such as ``*.example.com``."""

    def __init__(self, domain: str) -> None:
        super().__init__(domain)
        # As in aiohttp, "*" stands for any text, dots included ("*" alone: any host).
        mask = re.escape(self._domain).replace(r"\*", ".*")
        self._mask = re.compile(mask)

    @property
    def canonical(self) -> str:
        return self._mask.pattern

    def validation(self, domain: str) -> str:
        return super().validation(domain.replace("*", "wildcard")).replace("wildcard", "*")

    def match_domain(self, host: str) -> bool:
        return self._mask.fullmatch(host.lower()) is not None


class MatchedSubAppResource(_SubAppRoot, AbstractResource):
    """A sub-application chosen by a rule (a :class:`Domain`) rather than a path."""

    def __init__(self, rule: Domain, app: Application) -> None:
        super().__init__()
        self._rule = rule
        self._app = app

    @property
    def canonical(self) -> str:
        return self._rule.canonical

    def get_info(self) -> dict[str, Any]:
        return {"app": self._app, "rule": self._rule}

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("A domain sub-application cannot be prefixed")

    def raw_match(self, path: str) -> bool:
        return False

    async def resolve(self, request: Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        if not await self._rule.match(request):
            return None, set()
        return _resolved(await self._app.router.resolve(request), self._app)

    def __repr__(self) -> str:
        return f"<MatchedSubAppResource -> {self._app!r}>"
