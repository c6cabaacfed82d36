"""url_for quoting of route literals, route registration rules and static traversal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from asgiweb import web
from asgiweb.streams import EMPTY_PAYLOAD
from asgiweb.transport import RequestHead


def make_request(method: str, path: str, host: str | None = None) -> web.Request:
    headers = CIMultiDict({"Host": host} if host else {})
    head = RequestHead(method, path, "", web.HttpVersion11, CIMultiDictProxy(headers), ())
    return web.Request(head, EMPTY_PAYLOAD, sink=None)  # type: ignore[arg-type]


def resolve(
    router: web.UrlDispatcher, method: str, path: str, host: str | None = None
) -> web.UrlMappingMatchInfo:
    return asyncio.run(router.resolve(make_request(method, path, host)))


async def handler(request: web.Request) -> web.Response:
    return web.Response()


def test_dynamic_url_for_encodes_the_literal_text_and_keeps_its_escapes() -> None:
    router = web.UrlDispatcher()
    route = router.add_get("/пре %2Fфикс/{arg}", handler, allow_head=False)
    url = route.url_for(arg="1 2")
    assert str(url) == "/%D0%BF%D1%80%D0%B5%20%2F%D1%84%D0%B8%D0%BA%D1%81/1%202"
    assert url.path == "/пре /фикс/1 2"
    assert route.resource is not None
    assert route.resource.canonical == "/%D0%BF%D1%80%D0%B5%20%2F%D1%84%D0%B8%D0%BA%D1%81/{arg}"
    # The URL it writes routes back to it.
    info = resolve(router, "GET", url.raw_path)
    assert info.route is route and info == {"arg": "1 2"}


def test_dynamic_url_for_keeps_a_slash_in_a_value_and_escapes_its_percent() -> None:
    # aiohttp quotes a value as a path: "/" stays, "%" is always escaped ("%2F" is text).
    router = web.UrlDispatcher()
    route = router.add_get("/пре %2Fфикс/{arg}", handler, allow_head=False)
    url = route.url_for(arg="1 2/текст%2F")
    assert url.path == "/пре /фикс/1 2/текст%2F"
    assert str(url) == (
        "/%D0%BF%D1%80%D0%B5%20%2F%D1%84%D0%B8%D0%BA%D1%81/1%202/%D1%82%D0%B5%D0%BA%D1%81%D1%82%252F"
    )
    # A part whose pattern takes slashes routes the URL back to the same value.
    tail = router.add_get("/files/{tail:.+}", handler, allow_head=False)
    written = tail.url_for(tail="a b/c%d.txt")
    assert str(written) == "/files/a%20b/c%25d.txt"
    info = resolve(router, "GET", written.raw_path)
    assert info.route is tail and info == {"tail": "a b/c%d.txt"}


def test_dynamic_literal_quoting_survives_a_sub_app_prefix() -> None:
    app = web.Application()
    sub = web.Application()
    route = sub.router.add_get("/ж/{arg}", handler, allow_head=False)
    app.add_subapp("/пре", sub)
    url = route.url_for(arg="x")
    assert str(url) == "/%D0%BF%D1%80%D0%B5/%D0%B6/x"
    assert resolve(app.router, "GET", url.raw_path).route is route


def test_plain_url_for_encodes_non_ascii_and_lone_percent() -> None:
    router = web.UrlDispatcher()
    route = router.add_get("/ж", handler, allow_head=False)
    assert str(route.url_for()) == "/%D0%B6"
    assert resolve(router, "GET", "/%D0%B6").route is route
    odd = router.add_get("/100%", handler, allow_head=False)
    assert str(odd.url_for()) == "/100%25"


def test_static_url_for_encodes_the_prefix_and_keeps_its_escapes(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    router = web.UrlDispatcher()
    resource = router.add_static("/пре %2Fфикс", tmp_path)
    url = resource.url_for(filename="/1 2/файл%2F.txt")
    assert str(url) == (
        "/%D0%BF%D1%80%D0%B5%20%2F%D1%84%D0%B8%D0%BA%D1%81/1%202/%D1%84%D0%B0%D0%B9%D0%BB%252F.txt"
    )
    assert url.path == "/пре /фикс/1 2/файл%2F.txt"
    info = resolve(router, "GET", str(resource.url_for(filename="f.txt")))
    assert info.route.resource is resource and info == {"filename": "f.txt"}


def test_static_resource_refuses_a_path_leading_out_of_its_prefix(tmp_path: Path) -> None:
    router = web.UrlDispatcher()
    resource = router.add_static("/st", tmp_path)
    request = make_request("GET", "/st/../../etc/passwd")
    assert asyncio.run(resource.resolve(request)) == (None, set())
    info = asyncio.run(resource.resolve(make_request("GET", "/st/a/../b.txt")))[0]
    assert info is not None and info == {"filename": "a/../b.txt"}


def test_expect_handler_must_be_a_coroutine_function() -> None:
    def not_async(request: web.Request) -> None:
        pass

    router = web.UrlDispatcher()
    with pytest.raises(AssertionError, match="Coroutine is expected"):
        router.add_get("/", handler, expect_handler=not_async)  # type: ignore[arg-type]


def test_no_route_after_a_wildcard_one() -> None:
    resource = web.UrlDispatcher().add_resource("/path")
    resource.add_route("GET", handler)
    resource.add_route("*", handler)  # a wildcard after GET still serves other methods
    with pytest.raises(RuntimeError):
        resource.add_route("POST", handler)


def test_system_route_info_holds_its_exception() -> None:
    router = web.UrlDispatcher()
    router.add_get("/", handler)
    info = resolve(router, "GET", "/abc")
    assert info.get_info()["http_exception"].status == 404
    assert isinstance(info.route, web.SystemRoute)


def test_domain_sub_apps_come_before_the_parents_routes() -> None:
    async def root_handler(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.router.add_get("/", root_handler, allow_head=False)
    app.router.add_get("/root-only", root_handler, allow_head=False)
    sub = web.Application()
    sub_route = sub.router.add_get("/", handler, allow_head=False)
    app.add_domain("example.com", sub)
    assert resolve(app.router, "GET", "/", "example.com").route is sub_route
    assert resolve(app.router, "GET", "/", "other.com").route.handler is root_handler
    # The host's sub-app owns every path of that host, as a prefix sub-app owns its prefix.
    assert resolve(app.router, "GET", "/root-only", "example.com").http_exception is not None
    assert resolve(app.router, "POST", "/", "example.com").http_exception.status == 405


def test_domain_mask_star_spans_labels() -> None:
    app = web.Application()
    masked, anything = web.Application(), web.Application()
    masked_route = masked.router.add_get("/", handler, allow_head=False)
    any_route = anything.router.add_get("/", handler, allow_head=False)
    app.add_domain("*.example.com", masked)
    app.add_domain("*", anything)
    assert resolve(app.router, "GET", "/", "a.b.example.com").route is masked_route
    assert resolve(app.router, "GET", "/", "example2.com").route is any_route


def test_add_subapp_prefix_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="Prefix must be str"):
        web.Application().add_subapp(1, web.Application())  # type: ignore[arg-type]
