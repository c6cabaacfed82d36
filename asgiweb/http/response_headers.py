"""Sans-IO checks and values for the head of a response: header names and values that
may not go out, the reason phrase, the Content-Type that ``Response``'s arguments give,
and the fields a response formats itself (``ETag``, ``Last-Modified``,
``Content-Disposition``)."""

from __future__ import annotations

import datetime
import math
import re
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import quote

from multidict import CIMultiDict

from .. import hdrs
from .request_headers import ETAG_ANY, ETag, check_etag_value

__all__ = [
    "BAD_VALUE_RE",
    "REASONS",
    "TEXT_TYPES",
    "attachment_disposition",
    "check_headers",
    "checked_reason",
    "content_headers",
    "etag_value",
    "last_modified_value",
    "text_type",
]

#: The standard reason phrase of each status.
REASONS: Final = {s.value: s.phrase for s in HTTPStatus}
# RFC 9110 5.5, RFC 9112 4: no control character but HTAB in a field value or reason
# phrase (what aiohttp 3.14 refuses too).
BAD_VALUE_RE: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 9110 5.5: a field value must not carry CR, LF or NUL; names are tokens.
_TOKEN_CHARS: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_TOKENS_RE: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def check_headers(headers: CIMultiDict[str]) -> None:
    """Refuse header names that are not tokens and values with a control character
    other than HTAB (CR and LF above all: they would split the head).

    One C-level pass over the joined values and one over the joined names; the
    per-header loop runs only to name the culprit.
    """
    if (
        BAD_VALUE_RE.search("".join(headers.values())) is not None
        or not _TOKENS_RE.fullmatch("".join(headers.keys()))
        or "" in headers
    ):
        for name, value in headers.items():
            if not name or not _TOKEN_CHARS.issuperset(name):
                raise ValueError(f"Invalid header name {name!r}")
            if BAD_VALUE_RE.search(value):
                raise ValueError(f"Header value of {name!r} contains a forbidden control character")


def checked_reason(status: int, reason: str | None) -> str:
    """``reason``, or the standard phrase of ``status``; refuses what would break the
    status line."""
    if reason is None:
        return REASONS.get(status, "")
    if BAD_VALUE_RE.search(reason) is not None:
        # Worded as aiohttp's message, which code ported from it may match.
        raise ValueError("Reason cannot contain \\n, \\r or other control characters")
    return reason


# Content-Type values of text responses, by content_type argument (None: text/plain).
TEXT_TYPES: dict[str | None, str] = {None: "text/plain; charset=utf-8"}


def text_type(content_type: object) -> str | None:
    """The Content-Type for UTF-8 text of ``content_type`` (remembered in
    :data:`TEXT_TYPES`); None when the general path must handle it (a charset in it, a
    value a header cannot carry, not a str)."""
    if not isinstance(content_type, str):
        return None
    if "charset" in content_type or BAD_VALUE_RE.search(content_type) is not None:
        return None
    ctype = f"{content_type}; charset=utf-8"
    if len(TEXT_TYPES) < 64:  # bounded: content types may come from user input
        TEXT_TYPES[content_type] = ctype
    return ctype


_BOTH_CONTENT_TYPES: Final = (
    "passing both Content-Type header and content_type or charset params is forbidden"
)


def content_headers(
    headers: Any, content_type: str | None, charset: str | None, text: str | None
) -> tuple[CIMultiDict[str], bytes | None]:
    """The headers of a ``Response`` made with these arguments, and ``text`` encoded
    when its Content-Type is ours to set (None: the Content-Type header given decides)."""
    real_headers: CIMultiDict[str] = CIMultiDict(headers) if headers is not None else CIMultiDict()
    if content_type is not None and "charset" in content_type:
        raise ValueError("charset must not be in content_type argument")
    if hdrs.CONTENT_TYPE in real_headers:
        if text is not None:
            conflict = bool(content_type or charset)  # with text, "" counts as not given
        else:
            conflict = content_type is not None or charset is not None
        if conflict:
            raise ValueError(_BOTH_CONTENT_TYPES)
        return real_headers, None
    if text is not None:
        if not isinstance(text, str):
            raise TypeError(f"text argument must be str ({type(text)!r})")
        charset = charset or "utf-8"
        real_headers[hdrs.CONTENT_TYPE] = f"{content_type or 'text/plain'}; charset={charset}"
        return real_headers, text.encode(charset)
    if content_type is not None:
        real_headers[hdrs.CONTENT_TYPE] = (
            f"{content_type}; charset={charset}" if charset else content_type
        )
    return real_headers, None


def etag_value(value: object) -> str:
    """The ``ETag`` field for ``value`` (``*``, a tag's content, or an :class:`ETag`)."""
    if isinstance(value, str):
        if value == ETAG_ANY:
            return ETAG_ANY
        check_etag_value(value)
        return f'"{value}"'
    if isinstance(value, ETag) and isinstance(value.value, str):
        check_etag_value(value.value)
        prefix = "W/" if value.is_weak else ""
        return f'{prefix}"{value.value}"'
    raise ValueError(f"Unsupported etag type: {type(value).__name__}")


_WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                  "Nov", "Dec")  # fmt: skip


# The last time formatted and its text: a file served again and again has the same
# Last-Modified each time. One tuple, replaced whole, so any thread reads a matching pair.
_last_formatted: tuple[float, str] = (float("nan"), "")


def imf_fixdate(seconds: float) -> str:
    """``seconds`` since the epoch as an IMF-fixdate (RFC 9110 5.6.7), what
    ``email.utils.formatdate(seconds, usegmt=True)`` gives, in a fifth of the time (every
    file response carries one in Last-Modified)."""
    global _last_formatted
    last, text = _last_formatted
    if seconds == last:
        return text
    t = time.gmtime(seconds)
    text = (
        f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )
    _last_formatted = (seconds, text)
    return text


def last_modified_value(value: object) -> str:
    """The ``Last-Modified`` field for a timestamp, a datetime or a ready-made string."""
    if isinstance(value, (int, float)):
        return imf_fixdate(math.ceil(value))
    if isinstance(value, datetime.datetime):
        return imf_fixdate(value.timestamp())
    if isinstance(value, str):
        return value
    raise TypeError(f"Unsupported type for last_modified: {type(value).__name__}")


def attachment_disposition(params: Mapping[str, str]) -> str:
    """``Content-Disposition: attachment`` with ``params`` (a filename, a field name)."""
    return "; ".join(["attachment", *map(_disposition_param, params.items())])


def _disposition_param(item: tuple[str, str]) -> str:
    """One Content-Disposition parameter: quoted when printable ASCII, otherwise
    ``key*=utf-8''...`` (RFC 6266 4.3, RFC 8187) so no name can break the header."""
    key, value = item
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'{key}="{value}"'
    return f"{key}*=utf-8''{quote(value, safe='')}"
