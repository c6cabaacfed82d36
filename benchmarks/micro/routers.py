"""Routers of a given size and shape, and a way to resolve against them without a loop."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from asgiweb import web
from asgiweb.streams import EMPTY_PAYLOAD
from asgiweb.transport import RequestHead

__all__ = ["LAYOUTS", "build_router", "make_request", "resolve_now"]

#: distinct: every route has its own fixed prefix (/r7/{x}, /static8), the common case.
#: shared: every route sits under one dynamic prefix (/items/{id}/f7): the worst case for
#: an index by fixed prefix, which then has to try them in order.
LAYOUTS = ("distinct", "shared")


def make_request(method: str, path: str) -> web.Request:
    """A request with no transport behind it, as tests/unit/asgiweb/test_routing.py builds them."""
    raw_path, _, query = path.partition("?")
    head = RequestHead(
        method, raw_path, query, web.HttpVersion11, CIMultiDictProxy(CIMultiDict()), ()
    )
    return web.Request(head, EMPTY_PAYLOAD, sink=None)  # type: ignore[arg-type]


async def _handler(request: web.Request) -> web.Response:
    return web.Response()


def build_router(count: int, layout: str) -> tuple[web.UrlDispatcher, str, web.AbstractRoute]:
    """``count`` GET routes, frozen as an app would freeze them, and a path that only the
    route registered last matches: ``(router, path, that route)``."""
    router = web.UrlDispatcher()
    last = count - 1
    for i in range(last):
        if layout == "shared":
            router.add_get(f"/items/{{id}}/f{i}", _handler)
        elif i % 2:
            router.add_get(f"/static{i}", _handler)
        else:
            router.add_get(f"/r{i}/{{x}}", _handler)
    if layout == "shared":
        route, path = router.add_get(f"/items/{{id}}/f{last}", _handler), f"/items/7/f{last}"
    else:
        route, path = router.add_get(f"/r{last}/{{x}}", _handler), f"/r{last}/value"
    router.freeze()
    return router, path, route


def resolve_now(router: web.UrlDispatcher, request: web.Request) -> web.UrlMappingMatchInfo:
    """``await router.resolve(request)`` without an event loop, whose overhead would swamp
    the few microseconds we measure. Plain resources never suspend, so one send() ends it."""
    coro: Coroutine[Any, Any, web.UrlMappingMatchInfo] = router.resolve(request)
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("resolve() suspended; it cannot be timed without a loop")
