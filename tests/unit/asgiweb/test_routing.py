"""Router resolution order, url_for and validation, without a server."""

from __future__ import annotations

import asyncio

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from asgiweb import web
from asgiweb.streams import EMPTY_PAYLOAD
from asgiweb.transport import RequestHead


def make_request(method: str, path: str) -> web.Request:
    raw_path, _, query = path.partition("?")
    head = RequestHead(
        method, raw_path, query, web.HttpVersion11, CIMultiDictProxy(CIMultiDict()), ()
    )
    return web.Request(head, EMPTY_PAYLOAD, sink=None)  # type: ignore[arg-type]


async def handler(request: web.Request) -> web.Response:
    return web.Response()


def resolve(router: web.UrlDispatcher, method: str, path: str) -> web.UrlMappingMatchInfo:
    return asyncio.run(router.resolve(make_request(method, path)))


def test_fixed_path_wins_over_variable_registered_first() -> None:
    router = web.UrlDispatcher()
    dyn = router.add_get("/users/{id}", handler)
    fixed = router.add_get("/users/me", handler)
    assert resolve(router, "GET", "/users/me").route is fixed
    info = resolve(router, "GET", "/users/42")
    assert info.route is dyn and info == {"id": "42"}


def test_variables_in_registration_order() -> None:
    router = web.UrlDispatcher()
    first = router.add_get(r"/a/{x:\d+}", handler)
    second = router.add_get("/a/{y}", handler)
    assert resolve(router, "GET", "/a/12").route is first
    assert resolve(router, "GET", "/a/bc").route is second


def test_regex_with_braces_and_multiple_parts() -> None:
    router = web.UrlDispatcher()
    route = router.add_get(r"/{year:\d{4}}/{slug}.html", handler)
    info = resolve(router, "GET", "/2024/hello.html")
    assert info.route is route and info == {"year": "2024", "slug": "hello"}
    assert isinstance(resolve(router, "GET", "/24/hello.html").http_exception, web.HTTPNotFound)


def test_404_and_405() -> None:
    router = web.UrlDispatcher()
    router.add_post("/x", handler)
    router.add_put("/x", handler)
    exc = resolve(router, "GET", "/x").http_exception
    assert isinstance(exc, web.HTTPMethodNotAllowed)
    assert exc.headers["Allow"] == "POST,PUT"
    assert isinstance(resolve(router, "GET", "/y").http_exception, web.HTTPNotFound)


def test_percent_encoded_slash_stays_in_one_part() -> None:
    router = web.UrlDispatcher()
    router.add_get("/f/{name}", handler)
    assert resolve(router, "GET", "/f/a%2Fb") == {"name": "a/b"}
    assert resolve(router, "GET", "/f/caf%C3%A9") == {"name": "café"}


def test_url_for() -> None:
    router = web.UrlDispatcher()
    router.add_resource("/{user}/info", name="user-info")
    router.add_get("/root", handler, name="root")
    assert router["root"].url_for().with_query({"a": "b", "c": "d"}) == URL("/root?a=b&c=d")
    # As aiohttp writes it: a value is quoted as a path, so its "/" stays a "/".
    url = router["user-info"].url_for(user="john doe/x")
    assert str(url) == "/john%20doe/x/info"
    assert "user-info" in router and len(router.named_resources()) == 2


@pytest.mark.parametrize("name", ["1abc", "a b", "class", "x.for"])
def test_bad_names_rejected(name: str) -> None:
    with pytest.raises(ValueError):
        web.UrlDispatcher().add_get("/p", handler, name=name)


def test_duplicate_name_and_method_rejected() -> None:
    router = web.UrlDispatcher()
    router.add_get("/p", handler, name="p")
    with pytest.raises(ValueError):
        router.add_get("/q", handler, name="p")
    with pytest.raises(RuntimeError):
        router.add_post("/r", handler).resource.add_route("POST", handler)  # type: ignore[union-attr]


def test_path_must_start_with_slash() -> None:
    with pytest.raises(ValueError):
        web.UrlDispatcher().add_get("p", handler)


def test_bad_pattern_rejected() -> None:
    with pytest.raises(ValueError):
        web.UrlDispatcher().add_get("/{x:(}", handler)


def test_frozen_router_refuses_routes() -> None:
    app = web.Application()
    app.freeze()
    with pytest.raises(RuntimeError):
        app.router.add_get("/late", handler)


def test_route_table_def_is_a_sequence() -> None:
    routes = web.RouteTableDef()

    @routes.get("/a")
    async def a(request: web.Request) -> web.Response:
        return web.Response()

    @routes.view("/v")
    class V(web.View):
        async def get(self) -> web.Response:
            return web.Response()

    assert len(routes) == 2 and routes[0].method == "GET" and routes[1].method == "*"
    app = web.Application()
    registered = app.add_routes(routes)
    assert [r.method for r in registered] == ["GET", "*"]


def test_add_get_names_its_head_route() -> None:
    router = web.UrlDispatcher()
    get_route = router.add_get("/x", handler, name="route")
    names = {(r.method, r.name) for r in router.routes()}
    assert names == {("GET", "route"), ("HEAD", "route-head")}
    assert get_route.name == "route" and list(router.named_resources()) == ["route"]


def test_frozen_router_refuses_routes_on_an_existing_resource() -> None:
    app = web.Application()
    app.router.add_get("/same", handler)
    app.freeze()
    with pytest.raises(RuntimeError):
        app.router.add_post("/same", handler)


def test_plain_function_handler_is_wrapped_with_a_warning() -> None:
    def sync_handler(request: web.Request) -> web.Response:
        return web.Response(text="sync")

    router = web.UrlDispatcher()
    with pytest.warns(DeprecationWarning):
        router.add_get("/sync", sync_handler)
    info = resolve(router, "GET", "/sync")
    resp = asyncio.run(info.handler(make_request("GET", "/sync")))
    assert resp.text == "sync"


def crowded_router() -> web.UrlDispatcher:
    """Many resources under one prefix, so the router matches them with one regex."""
    router = web.UrlDispatcher()
    for i in range(30):
        router.add_get(f"/users/{{id}}/f{i}", handler)
    router.add_get(r"/users/{id:\d+}/posts/{post}", handler, name="digits")
    router.add_get("/users/{name}/posts/{post}", handler, name="any")
    router.add_post("/users/{id}/only-post", handler)
    router.add_get("/users/fixed/posts/x", handler, name="plain")
    router.freeze()
    return router


def test_crowded_bucket_keeps_registration_order_and_parts() -> None:
    router = crowded_router()
    info = resolve(router, "GET", "/users/42/posts/a%2Fb")
    assert info.route.name == "digits" and info == {"id": "42", "post": "a/b"}
    info = resolve(router, "GET", "/users/bob/posts/7")
    assert info.route.name == "any" and info == {"name": "bob", "post": "7"}
    assert resolve(router, "GET", "/users/9/f29") == {"id": "9"}
    # A plain resource is indexed under its whole path: it wins over the variables.
    assert resolve(router, "GET", "/users/fixed/posts/x").route.name == "plain"


def test_crowded_bucket_405_lists_every_allowed_method() -> None:
    router = crowded_router()
    exc = resolve(router, "GET", "/users/5/only-post").http_exception
    assert isinstance(exc, web.HTTPMethodNotAllowed)
    assert exc.headers["Allow"] == "POST"
    assert isinstance(resolve(router, "GET", "/users/5/nothing").http_exception, web.HTTPNotFound)
