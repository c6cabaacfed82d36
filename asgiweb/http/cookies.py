"""Cookies, sans-IO: the request's ``Cookie`` header parsed (RFC 6265 5.4), and
``Set-Cookie`` built on ``http.cookies`` plus the attributes it lacks on older Pythons."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from http.cookies import Morsel, SimpleCookie
from typing import Any, Final

__all__ = ["ResponseCookies", "EXPIRED", "parse_cookie_header"]

internal_logger = logging.getLogger("asgiweb.internal")

# Names as browsers send them, which is more than RFC 6265's token: real sites set
# names such as ``ISAWPLB{DB45DF86-...}``. Controls, blanks, quotes, "," ";" "\\" are out.
_COOKIE_NAME_RE: Final = re.compile(r"[!#$%&'()*+\-./0-9:<=>?@A-Z\[\]^_`a-z{|}~]+")
# A quoted value may hold ";" and escaped quotes (RFC 2109 quoted-string, as browsers
# and http.cookies send them); an unterminated quote makes the value plain.
_QUOTED_VALUE_RE: Final = re.compile(r'[ \t]*"((?:[^"\\]|\\.)*)"')
_COOKIE_ESCAPE_RE: Final = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))")


def parse_cookie_header(headers: Iterable[str]) -> dict[str, str]:
    """The ``name=value`` pairs of ``Cookie`` header values, leniently: browsers send
    what any script on the site set, and one odd pair must not hide the others. A quoted
    value is unquoted; a name without ``=`` gets an empty value; the last of a name wins;
    pairs with illegal names are dropped and logged once, at DEBUG, for the whole header."""
    cookies: dict[str, str] = {}
    invalid: list[str] = []
    for header in headers:
        _parse_one(header, cookies, invalid)
    if invalid:
        internal_logger.debug("Cannot load cookie. Illegal cookie names: %r", invalid)
    return cookies


def _parse_one(header: str, cookies: dict[str, str], invalid: list[str]) -> None:
    pos, end = 0, len(header)
    while pos < end:
        semi = header.find(";", pos)
        if semi == -1:
            semi = end
        eq = header.find("=", pos, semi)
        if eq == -1:
            name, value = header[pos:semi].strip(), ""
        else:
            name = header[pos:eq].strip()
            value = header[eq + 1 : semi].strip()
            # A quote left open is scanned to the end at most once: a later value's
            # opening quote would have closed it.
            if value[:1] == '"':
                quoted = _QUOTED_VALUE_RE.match(header, eq + 1)
                if quoted is not None:
                    # A quoted value runs to its closing quote, past any ";" inside it.
                    value = _COOKIE_ESCAPE_RE.sub(_unescape, quoted.group(1))
                    semi = header.find(";", quoted.end())
                    semi = end if semi == -1 else semi
        pos = semi + 1
        if not name:
            continue
        if _COOKIE_NAME_RE.fullmatch(name):
            cookies[name] = value
        else:
            invalid.append(name)


def _unescape(match: re.Match[str]) -> str:
    octal, char = match.groups()
    return chr(int(octal, 8)) if octal else char


EXPIRED = "Thu, 01 Jan 1970 00:00:00 GMT"


class _Morsel(Morsel[str]):
    """A Morsel that also knows ``Partitioned`` (CHIPS), which ``http.cookies`` adds only
    in Python 3.14."""

    _reserved = {**Morsel._reserved, "partitioned": "Partitioned"}  # type: ignore[attr-defined]
    _flags = Morsel._flags | {"partitioned"}  # type: ignore[attr-defined]


class ResponseCookies(SimpleCookie):
    """The outgoing cookies of a response (``resp.cookies``)."""

    def set(
        self,
        name: str,
        value: str,
        *,
        expires: str | None = None,
        domain: str | None = None,
        max_age: int | str | None = None,
        path: str = "/",
        secure: bool | None = None,
        httponly: bool | None = None,
        version: str | None = None,
        samesite: str | None = None,
        partitioned: bool | None = None,
    ) -> None:
        """Set (or replace) the cookie ``name`` with these attributes."""
        morsel = _Morsel()
        real, coded = self.value_encode(str(value))
        morsel.set(name, real, coded)  # raises CookieError for an illegal name
        attrs: dict[str, Any] = {"path": path}
        if expires is not None:
            attrs["expires"] = expires
        if domain is not None:
            attrs["domain"] = domain
        if max_age is not None:
            attrs["max-age"] = str(max_age)
        if secure is not None:
            attrs["secure"] = secure
        if httponly is not None:
            attrs["httponly"] = httponly
        if version is not None:
            attrs["version"] = version
        if samesite is not None:
            attrs["samesite"] = samesite
        if partitioned is not None:
            attrs["partitioned"] = partitioned
        morsel.update(attrs)
        dict.__setitem__(self, name, morsel)

    def header_values(self) -> list[str]:
        """One ``Set-Cookie`` value per cookie."""
        return [morsel.OutputString() for morsel in self.values()]
