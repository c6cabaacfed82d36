"""RequestHead.authority: set for an absolute-form target, None otherwise, on every path."""

from __future__ import annotations

from typing import Any

from asgiweb.asgi.adapter import _head_from_scope
from asgiweb.helpers import HttpVersion11
from asgiweb.request import BaseRequest
from asgiweb.streams import EMPTY_PAYLOAD
from asgiweb.transport import RequestHead


class _Sink:
    adds_default_headers = False
    started = False


def test_authority_defaults_to_none() -> None:
    head = RequestHead("GET", "/", "", HttpVersion11, None, [(b"Host", b"h")])
    assert head.authority is None


def test_the_target_authority_wins_over_host() -> None:
    head = RequestHead(
        "GET", "/p", "", HttpVersion11, None, [(b"Host", b"localhost")], "https",
        authority="other.example:8080",
    )  # fmt: skip
    request = BaseRequest(head, EMPTY_PAYLOAD, _Sink())  # type: ignore[arg-type]
    assert request.host == "other.example:8080"
    assert str(request.url) == "https://other.example:8080/p"


def test_an_asgi_head_has_no_authority_and_is_not_filled_for_it() -> None:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/p",
        "raw_path": b"/p",
        "query_string": b"a=1",
        "headers": [(b"host", b"localhost:9")],
        "http_version": "1.1",
    }
    head = _head_from_scope(scope)
    assert head.authority is None
    # The fields an ASGI head fills on first use are still waiting: asking for the
    # authority (as request.host does) cost nothing.
    assert hasattr(head, "_fill")
    assert head.query_string == "a=1"
