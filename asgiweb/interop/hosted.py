"""asgiweb mounted under another ASGI host (Starlette's ``Mount``, FastAPI's ``mount``):
URLs a client can follow from there. (The host's lifespan runs the app's startup and
cleanup through :func:`asgiweb.asgi.lifespan`.)"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from yarl import URL

if TYPE_CHECKING:
    from ..request import Request

__all__ = ["absolute_url"]


def absolute_url(request: Request, url: URL | str) -> URL:
    """``url`` (a path such as ``url_for`` gives) as an absolute URL a client can follow:
    the request's scheme and host, and the prefix an ASGI host mounted this app under."""
    url = URL(url) if isinstance(url, str) else url
    if url.absolute:
        return url
    return URL.build(
        scheme=request.scheme,
        authority=request.host,
        path=quote(request._head.root_path) + url.raw_path,
        query_string=url.raw_query_string,
        fragment=url.raw_fragment,
        encoded=True,
    )
