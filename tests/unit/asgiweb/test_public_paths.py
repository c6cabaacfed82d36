"""The documented import paths still name the objects of the modules that define them."""

from __future__ import annotations

import importlib

import pytest

REEXPORTS = [
    # (documented module, defining module, names)
    (
        "asgiweb.asgi",
        "asgiweb.asgi.adapter",
        ["ASGIAdapter", "BadRequest", "ResponseAborted", "lifespan"],
    ),
    ("asgiweb.asgi", "asgiweb.asgi.sink", ["ASGIConnection", "ASGISink", "ASGITransport"]),
    ("asgiweb.asgi", "asgiweb.asgi.websocket", ["ASGIWebSocketChannel", "ASGIWebSocketSink"]),
    ("asgiweb.mount", "asgiweb.interop.asgi_app", ["ASGIMountResource", "mount_asgi"]),
    ("asgiweb.mount", "asgiweb.interop.wsgi", ["mount_wsgi"]),
    ("asgiweb.mount", "asgiweb.interop.hosted", ["absolute_url"]),
]


@pytest.mark.parametrize(("public", "home", "names"), REEXPORTS)
def test_reexported_names_are_the_defining_modules_objects(
    public: str, home: str, names: list[str]
) -> None:
    public_module = importlib.import_module(public)
    home_module = importlib.import_module(home)
    for name in names:
        assert name in public_module.__all__
        assert getattr(public_module, name) is getattr(home_module, name)


def test_every_reexport_is_checked() -> None:
    for public in ("asgiweb.asgi", "asgiweb.mount"):
        checked = {name for module, _, names in REEXPORTS if module == public for name in names}
        assert set(importlib.import_module(public).__all__) == checked


def test_gunicorn_workers_keep_their_documented_path() -> None:
    pytest.importorskip("gunicorn")
    from asgiweb import worker
    from native_server import worker as native_worker

    assert worker.GunicornWebWorker is native_worker.GunicornWebWorker
    assert worker.GunicornUVLoopWebWorker is native_worker.GunicornUVLoopWebWorker
