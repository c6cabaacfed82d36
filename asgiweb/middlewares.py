"""The ``@middleware`` marker and the middlewares aiohttp ships."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .exceptions import HTTPMove, HTTPPermanentRedirect
from .routing import SystemRoute
from .typedefs import Handler as Handler

if TYPE_CHECKING:
    from .request import Request
    from .response import StreamResponse

__all__ = ["middleware", "normalize_path_middleware"]

_F = TypeVar("_F", bound=Callable[..., Any])

_SLASHES_RE = re.compile(r"//+")
_LEADING_SLASHES_RE = re.compile(r"^//+")


def middleware(func: _F) -> _F:
    """Mark ``func(request, handler)`` as a (new-style) middleware."""
    func.__middleware_version__ = 1  # type: ignore[attr-defined]
    return func


def normalize_path_middleware(
    *,
    append_slash: bool = True,
    remove_slash: bool = False,
    merge_slashes: bool = True,
    redirect_class: type[HTTPMove] = HTTPPermanentRedirect,
) -> Callable[[Request, Handler], Awaitable[StreamResponse]]:
    """A middleware that redirects a path no route matches to a normalized one that does.

    Candidates, in order: slashes merged; a trailing slash added (or removed); both.
    """
    if append_slash and remove_slash:
        raise AssertionError("Cannot use both append_slash and remove_slash")

    def candidates(path: str, decoded: str) -> list[str]:
        found = []
        if merge_slashes:
            found.append(_SLASHES_RE.sub("/", path))
        if append_slash and not decoded.endswith("/"):
            found.append(path + "/")
        if remove_slash and decoded.endswith("/"):
            found.append(path[:-1])
        if merge_slashes and append_slash:
            found.append(_SLASHES_RE.sub("/", path + "/"))
        if merge_slashes and remove_slash:
            found.append(_SLASHES_RE.sub("/", path)[:-1])
        # A leading "//" would make the Location protocol-relative: another site.
        return [_LEADING_SLASHES_RE.sub("/", c) for c in found]

    @middleware
    async def impl(request: Request, handler: Handler) -> StreamResponse:
        if isinstance(request.match_info.route, SystemRoute):
            path, sep, query = request.raw_path.partition("?")
            # Only an origin-form path is normalized: anything else (an asterisk target,
            # say) has no local redirect to offer.
            for candidate in candidates(path, request.path) if path[:1] == "/" else ():
                if candidate and candidate != path and await _resolves(request, candidate):
                    raise redirect_class(candidate + sep + query)
        return await handler(request)

    return impl


async def _resolves(request: Request, path: str) -> bool:
    try:
        alt = request.clone(rel_url=path)
    except ValueError:  # not a relative URL after all: nothing local to redirect to
        return False
    match_info = await request.app.router.resolve(alt)
    return match_info.http_exception is None
