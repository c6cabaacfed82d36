"""Routing seen by a client on every path: static files we may not read, domain sub-apps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from asgiweb import web


@pytest.fixture
def unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``locked/`` can be listed by name but nothing in it can be examined (EACCES),
    as for a directory without search permission (which root would ignore)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "f.txt").write_text("secret")
    (tmp_path / "open.txt").write_text("open")
    real_is_dir = Path.is_dir
    real_iterdir = Path.iterdir

    def is_dir(self: Path, **kwargs: Any) -> bool:
        if self.parent == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_dir(self, **kwargs)

    def iterdir(self: Path) -> Any:
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "is_dir", is_dir)
    monkeypatch.setattr(Path, "iterdir", iterdir)
    return tmp_path


def test_static_permission_errors_are_403(serve_app: Any, unreadable: Path) -> None:
    app = web.Application()
    app.router.add_static("/", unreadable, show_index=True)
    with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/").status_code == 200
        assert client.get("/open.txt").text == "open"
        assert client.get("/locked/").status_code == 403
        assert client.get("/locked/f.txt").status_code == 403


def test_domain_sub_app_wins_over_the_parents_same_path(serve_app: Any) -> None:
    async def parent(request: web.Request) -> web.Response:
        return web.Response(text="parent")

    async def child(request: web.Request) -> web.Response:
        return web.Response(text="child")

    app = web.Application()
    app.router.add_get("/", parent)
    sub = web.Application()
    sub.router.add_get("/", child)
    app.add_domain("different.example.com", sub)
    with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/", headers={"Host": "different.example.com"}).text == "child"
        assert client.get("/").text == "parent"
