"""StaticResource without a server: url_for, versions, matching, registration and defs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from pathlib import Path

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from asgiweb import web
from asgiweb.fileresponse import accepted_codings, guess_content_type
from asgiweb.streams import EMPTY_PAYLOAD
from asgiweb.transport import RequestHead


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_bytes(b"secret")
    static = tmp_path / "static"
    (static / "sub").mkdir(parents=True)
    (static / "a.txt").write_bytes(b"aaa")
    (static / "sub" / "s.css").write_bytes(b"body{}")
    (static / "<b> & c.txt").write_bytes(b"bold")
    os.symlink("../secret.txt", static / "link_out")
    os.symlink("a.txt", static / "link_in")
    return static


def sha(path: Path) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def make_request(method: str, path: str) -> web.Request:
    head = RequestHead(method, path, "", web.HttpVersion11, CIMultiDictProxy(CIMultiDict()), ())
    return web.Request(head, EMPTY_PAYLOAD, sink=None)  # type: ignore[arg-type]


def resolve(router: web.UrlDispatcher, method: str, path: str) -> web.UrlMappingMatchInfo:
    return asyncio.run(router.resolve(make_request(method, path)))


def test_url_for_quotes_the_filename(root: Path) -> None:
    router = web.UrlDispatcher()
    resource = router.add_static("/static", root, name="static")
    assert router["static"] is resource
    assert resource.url_for(filename="a.txt") == URL("/static/a.txt")
    assert str(resource.url_for(filename=Path("sub/s.css"))) == "/static/sub/s.css"
    assert str(resource.url_for(filename="/a.txt")) == "/static/a.txt"
    assert str(resource.url_for(filename="<b> & c.txt")) == "/static/%3Cb%3E%20&%20c.txt"
    assert str(resource.url_for(filename="100%.txt")) == "/static/100%25.txt"
    assert str(resource.url_for(filename="q?x=1#f")) == "/static/q%3Fx=1%23f"
    assert str(resource.url_for(filename="€.txt")) == "/static/%E2%82%AC.txt"


def test_url_for_append_version(root: Path) -> None:
    router = web.UrlDispatcher()
    plain = router.add_static("/plain", root)
    versioned = router.add_static("/ver", root, append_version=True)
    version = sha(root / "a.txt")
    expected = URL("/ver/a.txt").with_query(v=version)
    assert versioned.url_for(filename="a.txt") == expected
    assert str(expected).endswith("%3D")  # the base64 padding, encoded
    assert versioned.url_for(filename="a.txt", append_version=False) == URL("/ver/a.txt")
    assert plain.url_for(filename="a.txt") == URL("/plain/a.txt")
    assert plain.url_for(filename="a.txt", append_version=True).query["v"] == version
    sub_version = sha(root / "sub" / "s.css")
    assert versioned.url_for(filename="sub/s.css").query["v"] == sub_version
    assert versioned.url_for(filename="link_in").query["v"] == version
    # Nothing to hash: a missing file, a directory, anything outside the root.
    for name in ("missing.txt", "sub", "../secret.txt", "link_out", "sub/../../secret.txt"):
        assert "v" not in versioned.url_for(filename=name).query, name


def test_add_static_checks_its_arguments(root: Path, tmp_path: Path) -> None:
    router = web.UrlDispatcher()
    with pytest.raises(ValueError, match="start with '/'"):
        router.add_static("static", root)
    with pytest.raises(ValueError, match="does not exist"):
        router.add_static("/x", tmp_path / "missing")
    with pytest.raises(ValueError, match="is not a directory"):
        router.add_static("/x", root / "a.txt")
    resource = router.add_static("/trailing/", root)
    assert resource.canonical == "/trailing"
    assert resource.url_for(filename="a.txt") == URL("/trailing/a.txt")
    top = router.add_static("/", root)
    assert top.canonical == "" and top.url_for(filename="a.txt") == URL("/a.txt")
    router.freeze()
    with pytest.raises(RuntimeError):
        router.add_static("/late", root)


def test_resource_description(root: Path) -> None:
    router = web.UrlDispatcher()
    resource = router.add_static("/static", root, name="st")
    assert isinstance(resource, web.StaticResource)
    assert isinstance(resource, web.PrefixResource)
    assert resource.canonical == "/static"
    info = resource.get_info()
    assert info["prefix"] == "/static" and info["directory"] == root.resolve()
    assert set(info["routes"]) == {"GET", "HEAD"}
    assert len(resource) == 2 and {route.method for route in resource} == {"GET", "HEAD"}
    assert repr(resource) == f"<StaticResource 'st' /static -> {root.resolve()!r}>"
    assert not resource.raw_match("/static")

    async def options(request: web.Request) -> web.Response:
        return web.Response()

    resource.set_options_route(options)
    assert {route.method for route in resource} == {"GET", "HEAD", "OPTIONS"}
    with pytest.raises(RuntimeError):
        resource.set_options_route(options)
    resource.add_prefix("/app")
    assert resource.canonical == "/app/static"
    assert resource.url_for(filename="a.txt") == URL("/app/static/a.txt")


def test_resolve(root: Path) -> None:
    router = web.UrlDispatcher()
    resource = router.add_static("/static", root)

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    plain = router.add_get("/static/exact", handler)
    info = resolve(router, "GET", "/static/sub/s.css")
    assert info.route.resource is resource and info == {"filename": "sub/s.css"}
    assert resolve(router, "HEAD", "/static/a.txt") == {"filename": "a.txt"}
    assert resolve(router, "GET", "/static") == {"filename": ""}
    assert resolve(router, "GET", "/static/") == {"filename": ""}
    # Encoded slashes reach the handler as slashes, where the containment check sees them.
    assert resolve(router, "GET", "/static/sub%2Fs.css") == {"filename": "sub/s.css"}
    assert resolve(router, "GET", "/static/100%25.txt") == {"filename": "100%.txt"}
    assert resolve(router, "GET", "/static/exact").route is plain
    assert isinstance(resolve(router, "GET", "/staticx/a.txt").http_exception, web.HTTPNotFound)
    failed = resolve(router, "POST", "/static/a.txt").http_exception
    assert isinstance(failed, web.HTTPMethodNotAllowed)
    assert set(failed.allowed_methods) == {"GET", "HEAD"}


def test_static_defs(root: Path) -> None:
    first = web.static("/s", root, show_index=True)
    assert isinstance(first, web.StaticDef) and isinstance(first, web.AbstractRouteDef)
    assert first == web.static("/s", root, show_index=True)
    assert first != web.static("/s", root)
    assert repr(first) == f"<StaticDef /s -> {root}, show_index=True>"
    table = web.RouteTableDef()
    table.static("/t", root, name="t")
    assert list(table) == [web.static("/t", root, name="t")]
    router = web.UrlDispatcher()
    routes = router.add_routes([first, *table])
    assert sorted(route.method for route in routes) == ["GET", "GET", "HEAD", "HEAD"]
    assert router["t"].url_for(filename="a.txt") == URL("/t/a.txt")


@pytest.mark.parametrize(
    ("header", "codings"),
    [
        ("", set()),
        ("gzip, deflate, br", {"gzip", "deflate", "br"}),
        ("GZIP;q=0.5, br;q=0", {"gzip"}),
        ("x-gzip", {"gzip"}),
        ("br;q=bogus, gzip ; q=1", {"gzip"}),
        ("*", {"*"}),
    ],
)
def test_accepted_codings(header: str, codings: set[str]) -> None:
    assert accepted_codings(header) == codings
    assert accepted_codings(header) == codings  # the second time from the parsed values


def test_accepted_codings_remembers_a_bounded_number_of_values() -> None:
    from asgiweb.http import codings as module

    # A client sending a new value every time costs a parse each, never memory.
    for n in range(10 * module._PARSED_MAX):
        assert accepted_codings(f"gzip, x-{n}") == {"gzip", f"x-{n}"}
        assert len(module._PARSED) <= module._PARSED_MAX
    long = "gzip, " + "x" * module._CACHED_LENGTH
    assert accepted_codings(long) == {"gzip", "x" * module._CACHED_LENGTH}
    assert long not in module._PARSED
    assert accepted_codings("br;q=0, gzip") == {"gzip"}
    assert module._PARSED["br;q=0, gzip"] == {"gzip"}


@pytest.mark.parametrize(
    ("name", "ctype"),
    [
        ("a.txt", "text/plain"),
        ("a.css", "text/css"),
        ("page.html", "text/html"),
        ("README", "application/octet-stream"),
        ("a.txt.gz", "application/gzip"),
        ("a.tar.gz", "application/gzip"),
        ("a.br", "application/x-brotli"),
        ("a.tar.bz2", "application/x-bzip2"),
        ("a.xz", "application/x-xz"),
    ],
)
def test_guess_content_type(name: str, ctype: str) -> None:
    assert guess_content_type(name) == ctype
