"""HTTP versions by name, and whether a connection persists after a request (RFC 9112 9.3).

Both transports read them here: the native parser's request line and an ASGI scope's
``http_version`` name a version the same way, and both decide keep-alive with
:func:`keep_alive` (llhttp's ``should_keep_alive()`` differs on two inputs, pinned in
``tests/unit/asgiweb/http/test_versions.py``: it keeps an HTTP/1.0 ``close, keep-alive``
open and reads the obsolete ``Proxy-Connection``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ..helpers import HttpVersion, HttpVersion10, HttpVersion11

__all__ = ["HTTP1_VERSIONS", "HTTP_VERSIONS", "keep_alive"]

#: The versions an HTTP/1 request line may name; the native server answers 505 to others.
HTTP1_VERSIONS: Final[Mapping[str, HttpVersion]] = {"1.1": HttpVersion11, "1.0": HttpVersion10}

#: Every version an ASGI scope's ``http_version`` may name (ASGI spells HTTP/2 ``"2"``,
#: HTTP/3 ``"3"``).
HTTP_VERSIONS: Final[Mapping[str, HttpVersion]] = {
    **HTTP1_VERSIONS,
    "2": HttpVersion(2, 0),
    "3": HttpVersion(3, 0),
}


def keep_alive(version: HttpVersion, connection: bytes | None) -> bool:
    """True when the connection persists after this request (RFC 9112 9.3).

    ``connection`` is the request's ``Connection`` field value (several fields joined with
    commas), or None without one. A ``close`` option ends the connection; otherwise
    HTTP/1.1 and later persist, and HTTP/1.0 persists only with a ``keep-alive`` option.
    Options are comma-separated tokens, compared without case: ``closed`` is not ``close``.
    """
    if connection is None:
        return version >= HttpVersion11
    value = connection.lower()
    if value == b"keep-alive":  # the usual values, answered without splitting
        return True
    if value == b"close":
        return False
    options = {option.strip(b" \t") for option in value.split(b",")}
    if b"close" in options:
        return False
    return version >= HttpVersion11 or b"keep-alive" in options
