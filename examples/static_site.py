"""A static site: the files under ``examples/static_site/`` at ``/static/``, and its
``index.html`` at ``/`` too.

Serve it natively with ``python examples/static_site.py`` (port 8080, or ``PORT``), or
with an ASGI server: ``uvicorn examples.static_site:app``; then open
http://127.0.0.1:8080/.
"""

from __future__ import annotations

import os
from pathlib import Path

from asgiweb import web

ROOT = Path(__file__).parent / "static_site"


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(ROOT / "index.html")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", index)
    # GET and HEAD for every file below ROOT, with Last-Modified, ETag and Range;
    # a path that climbs out of ROOT is a 404, never a file elsewhere.
    app.router.add_static("/static/", ROOT, name="static")
    return app


app = make_app()

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
