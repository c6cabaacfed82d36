"""Request targets (RFC 9112 3.2), read the same way by both transports."""

from __future__ import annotations

__all__ = ["split_absolute_form"]


def split_absolute_form(target: str) -> tuple[str, str, str, str] | None:
    """``(scheme, authority, path, query)`` of an absolute-form target, as sent to proxies
    (RFC 9112 3.2.2); None when ``target`` is not one, or names no host.

    The scheme is lower-cased, userinfo dropped, a fragment ignored, an empty path is ``/``.
    """
    scheme, sep, rest = target.partition("://")
    if not sep or not scheme.isalpha():
        return None
    end = len(rest)
    for char in "/?#":
        found = rest.find(char)
        if found != -1 and found < end:
            end = found
    # userinfo is deprecated in http(s) URIs (RFC 9110 4.2.4) and never a host.
    authority = rest[:end].rpartition("@")[2]
    if not authority:
        return None
    path, _, query = rest[end:].partition("#")[0].partition("?")
    return scheme.lower(), authority, path or "/", query
