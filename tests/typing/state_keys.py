"""Checked by mypy (strict), never run: typed state keys give typed values."""

from __future__ import annotations

from typing import assert_type

from asgiweb import web

DB = web.AppKey("DB", str)
USER = web.RequestKey("USER", int)
TRACE = web.ResponseKey("TRACE", bytes)


def check(app: web.Application, request: web.Request, response: web.StreamResponse) -> None:
    assert_type(app[DB], str)
    request[USER] = 42
    assert_type(request[USER], int)
    response[TRACE] = b"x"
    assert_type(response[TRACE], bytes)
    request["plain"] = object()  # string keys stay allowed, untyped
