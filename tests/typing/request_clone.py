"""Checked by mypy (strict), never run: a clone keeps its request's class, so the
forwarded-headers middleware of aiohttp's docs (``request = request.clone(...)``) types."""

from __future__ import annotations

from typing import assert_type

from asgiweb import web
from asgiweb.typedefs import Handler


@web.middleware
async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    request = request.clone(scheme="https", host="example.com", remote="192.0.2.1")
    return await handler(request)


def check(request: web.Request, base: web.BaseRequest) -> None:
    assert_type(request.clone(), web.Request)
    assert_type(base.clone(), web.BaseRequest)
