"""The router has one walk and one fast case: a bucket of plain and dynamic resources is
answered synchronously (one combined regex when crowded, else each resource's pattern)
instead of awaiting each resource's own ``resolve()``. Both must find the same route.

Each request is resolved three ways: by ``resolve_nowait()`` where it answers, by
``resolve()``, and by ``resolve()`` with the fast case switched off in every router (each
bucket marked as one to await, no combined regexes), where every candidate answers
through its own ``resolve()``, the general mechanism.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from asgiweb import web
from asgiweb.routing import UrlDispatcher
from asgiweb.test_utils import make_mocked_request


async def _plain(request: web.Request) -> web.Response:
    return web.Response()


async def _user(request: web.Request) -> web.Response:
    return web.Response()


async def _digits(request: web.Request) -> web.Response:
    return web.Response()


async def _post_only(request: web.Request) -> web.Response:
    return web.Response()


async def _sub(request: web.Request) -> web.Response:
    return web.Response()


async def _domain(request: web.Request) -> web.Response:
    return web.Response()


async def _crowd(request: web.Request) -> web.Response:
    return web.Response()


def _app(static_dir: Path, with_domain: bool) -> web.Application:
    app = web.Application()
    router = app.router
    router.add_get("/", _plain)
    router.add_get("/plain", _plain)
    router.add_get("/users/{name}", _user)
    router.add_get(r"/num/{n:\d+}", _digits)
    router.add_get(r"/num/{n:\d+}/{m:\d+}", _digits)
    router.add_post("/form", _post_only)
    # Two resources with one path: the second answers the method the first lacks (its
    # GET route is never reached, even once a POST has found the second resource).
    router.add_get("/dup", _plain, name="dup_get")
    router.add_post("/dup", _post_only, name="dup_post")
    router.add_get("/dup", _crowd, name="dup_post")
    # A crowded bucket, matched by one combined regex: literal last segments, a variable one.
    for name in ("a", "b", "c", "d", "e"):
        router.add_get(f"/crowd/{{id}}/{name}", _crowd)
    router.add_put("/crowd/{id}/{verb}", _crowd)
    router.add_get("/crowd", _plain)  # a plain resource in the crowded bucket
    router.add_static("/static", static_dir)
    router.add_get("/static-page", _plain)  # the static prefix is no prefix of this one
    sub = web.Application()
    sub.router.add_get("/", _sub)
    sub.router.add_get("/item/{id}", _sub)
    sub.router.add_post("/only-post", _sub)
    app.add_subapp("/sub", sub)
    if with_domain:
        dom = web.Application()
        dom.router.add_get("/", _domain)
        dom.router.add_get("/users/{name}", _domain)
        app.add_domain("*.example.com", dom)
    return app


# (method, path, Host)
_REQUESTS: list[tuple[str, str, str]] = [
    ("GET", "/", "localhost"),
    ("GET", "/plain", "localhost"),
    ("HEAD", "/plain", "localhost"),
    ("POST", "/plain", "localhost"),  # 405
    ("GET", "/plain/", "localhost"),  # 404
    ("GET", "/users/alice", "localhost"),
    ("GET", "/users/a%20b", "localhost"),
    ("GET", "/users/a%2Fb", "localhost"),
    ("GET", "/users/alice/more", "localhost"),  # 404
    ("DELETE", "/users/alice", "localhost"),  # 405
    ("GET", "/num/42", "localhost"),
    ("GET", "/num/4x", "localhost"),  # 404: the regex refuses
    ("GET", "/num/4/2", "localhost"),
    ("GET", "/form", "localhost"),  # 405
    ("POST", "/form", "localhost"),
    ("GET", "/dup", "localhost"),
    ("POST", "/dup", "localhost"),
    ("GET", "/dup", "localhost"),  # again, after the POST went to the second resource
    ("PUT", "/dup", "localhost"),  # 405, allowing what both resources have
    ("GET", "/crowd/7/c", "localhost"),
    ("GET", "/crowd/7/e", "localhost"),
    ("PUT", "/crowd/7/a", "localhost"),
    ("PUT", "/crowd/7/zz", "localhost"),
    ("POST", "/crowd/7/b", "localhost"),  # 405 from a combined bucket
    ("GET", "/crowd/7/zz", "localhost"),  # 405
    ("GET", "/crowd/7", "localhost"),  # 404
    ("GET", "/crowd", "localhost"),
    ("POST", "/crowd", "localhost"),  # 405
    ("GET", "/crowd", "localhost"),
    ("GET", "/static/file.txt", "localhost"),
    ("GET", "/static/deep/er/file.txt", "localhost"),
    ("POST", "/static/file.txt", "localhost"),  # 405
    ("GET", "/static-page", "localhost"),
    ("GET", "/staticx", "localhost"),  # 404
    ("GET", "/sub/", "localhost"),
    ("GET", "/sub/item/9", "localhost"),
    ("GET", "/sub/only-post", "localhost"),  # 405 from the sub-app
    ("GET", "/sub/nothing", "localhost"),  # 404 from the sub-app
    ("GET", "/nothing/here", "localhost"),  # 404
    ("GET", "/", "www.example.com"),
    ("GET", "/users/bob", "www.example.com"),
    ("GET", "/plain", "www.example.com"),  # the domain sub-app owns its host: 404
]


def _summary(match_info: Any) -> tuple[Any, ...]:
    exc = match_info.http_exception
    # A static resource's handler is its bound method: the function tells which.
    handler = None if exc is not None else getattr(match_info.handler, "__func__", None)
    return (
        handler or match_info.handler if exc is None else None,
        dict(match_info),
        None if exc is None else exc.status,
        None if exc is None else sorted(getattr(exc, "allowed_methods", ())),
        [id(app) for app in match_info.apps],
    )


def _force_general(router: UrlDispatcher) -> None:
    """Every bucket awaited through its resources' own resolve(), in every router."""
    router._special_keys = set(router._index)
    router._combined = {}
    for resource in router.resources():
        sub = getattr(resource, "app", None)
        if sub is not None:
            _force_general(sub.router)


@pytest.fixture(scope="module")
def static_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("static")


@pytest.mark.parametrize("with_domain", [False, True], ids=["no-domain", "domain-sub-app"])
def test_the_fast_case_finds_what_every_resource_finds(static_dir: Path, with_domain: bool) -> None:
    app = _app(static_dir, with_domain)
    general_app = _app(static_dir, with_domain)

    def request(app: web.Application, method: str, path: str, host: str) -> web.Request:
        return make_mocked_request(method, path, {"Host": host}, app=app)

    async def compare() -> None:
        _force_general(general_app.router)
        answered_now = 0
        for method, path, host in _REQUESTS:
            via_resolve = _summary(await app.router.resolve(request(app, method, path, host)))
            general = await general_app.router.resolve(request(general_app, method, path, host))
            # Handlers are the same functions; the apps are not the same objects.
            assert via_resolve[:4] == _summary(general)[:4], (method, path, host)
            assert len(via_resolve[4]) == len(_summary(general)[4]), (method, path, host)
            now = app.router.resolve_nowait(request(app, method, path, host))
            if now is not None:
                answered_now += 1
                assert _summary(now) == via_resolve, (method, path, host)
        # The fast case ran: without a domain sub-app, all but what lies under a prefix
        # resource (static files, the sub-app) is answered without awaiting.
        under_prefix = sum(path.startswith(("/static/", "/sub/")) for _, path, _ in _REQUESTS)
        assert answered_now == (0 if with_domain else len(_REQUESTS) - under_prefix)

    asyncio.run(compare())


def _resolve(app: web.Application, method: str, path: str) -> Any:
    async def resolve() -> Any:
        return await app.router.resolve(make_mocked_request(method, path, app=app))

    return asyncio.run(resolve())


def test_a_route_added_after_a_path_was_resolved_is_found() -> None:
    # The router remembers which plain resource a path found first; the routes it answers
    # with are read afresh, so a method added to the resource later is found, and a 405
    # is not remembered. (The router is frozen by now; the resource takes routes still.)
    app = web.Application()
    resource = app.router.add_resource("/late")
    resource.add_route("GET", _plain)
    assert _resolve(app, "GET", "/late").handler is _plain
    assert _resolve(app, "POST", "/late").http_exception.status == 405
    resource.add_route("POST", _post_only)
    assert _resolve(app, "POST", "/late").handler is _post_only
    assert _resolve(app, "GET", "/late").handler is _plain


def test_a_resource_moved_under_a_prefix_is_no_longer_found_where_it_was() -> None:
    # Adding a sub-application re-indexes its resources under the prefix: what its router
    # remembered of the old paths must go.
    sub = web.Application()
    sub.router.add_get("/x", _sub)
    assert _resolve(sub, "GET", "/x").handler is _sub
    web.Application().add_subapp("/p", sub)
    assert _resolve(sub, "GET", "/x").http_exception.status == 404
    assert _resolve(sub, "GET", "/p/x").handler is _sub


def test_a_plain_resource_after_a_matching_one_is_not_taken_first() -> None:
    # /a is matched first by a dynamic resource of its bucket for GET; a plain /a
    # registered after it answers only the methods the first one lacks.
    app = web.Application()
    app.router.add_get("/{name}", _user)
    app.router.add_post("/a", _post_only)
    for _ in range(2):  # the second time, from what the first walk noted
        assert _resolve(app, "POST", "/a").handler is _post_only
        assert _resolve(app, "GET", "/a").handler is _user
