"""Sans-IO parsers for request header values: entity tags (RFC 9110 8.8.3, 13.1),
``Forwarded`` (RFC 7239), byte ``Range`` (RFC 9110 14.2), HTTP dates and
``Content-Type``."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Final, NamedTuple

__all__ = [
    "ETAG_ANY",
    "ETag",
    "check_etag_value",
    "parse_etag",
    "parse_content_type",
    "parse_etag_list",
    "parse_forwarded",
    "parse_http_date",
    "parse_range",
]

ETAG_ANY: Final = "*"


class ETag(NamedTuple):
    """An entity tag: its value without quotes, and whether it is weak."""

    value: str
    is_weak: bool = False


# RFC 9110 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE
_ETAGC: Final = r"[!#-}\x80-\xff]+"
_ETAG_RE: Final = re.compile(rf'(W/)?"({_ETAGC})"')
# One list member and the separator after it (or the end); anything else ends the list.
_ETAG_MEMBER_RE: Final = re.compile(rf'[ \t]*(W/)?"({_ETAGC})"[ \t]*(?:,|$)')
_ETAGC_RE: Final = re.compile(_ETAGC)


def parse_etag(value: str) -> ETag | None:
    """One entity tag, or None when ``value`` is not exactly one."""
    match = _ETAG_RE.fullmatch(value.strip())
    if match is None:
        return None
    return ETag(value=match.group(2), is_weak=bool(match.group(1)))


def check_etag_value(value: str) -> None:
    """Raise ValueError unless ``value`` can be sent as an entity tag's content."""
    if not _ETAGC_RE.fullmatch(value):
        raise ValueError(f"Value {value!r} is not a valid etag. Maybe it contains '\"'?")


def parse_etag_list(header: str | None) -> tuple[ETag, ...] | None:
    """``If-Match``/``If-None-Match``: ``*``, or the tags before the first malformed
    member (a member after garbage is not trusted); None when the header is absent."""
    if not header:
        return None
    if header.strip() == ETAG_ANY:
        return (ETag(value=ETAG_ANY),)
    etags = []
    pos, end = 0, len(header)
    while pos < end:
        match = _ETAG_MEMBER_RE.match(header, pos)
        if match is None:
            break
        weak, value = match.groups()
        etags.append(ETag(value=value, is_weak=bool(weak)))
        pos = match.end()
    return tuple(etags)


# RFC 7239 4: forwarded-pair = token "=" ( token / quoted-string ), pairs joined by ";"
# and elements by ",". A node may carry a port after a colon, which a token cannot hold:
# proxies send ``for=1.2.3.4:80`` unquoted all the same, so the port is accepted (6.1).
_TCHAR: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_QDTEXT: Final = r"[\t !#-\[\]-~\x80-\xff]"
_QUOTED_PAIR: Final = r"\\[\t !-~\x80-\xff]"
_FORWARDED_PAIR_RE: Final = re.compile(
    rf"({_TCHAR}+)=({_TCHAR}+|\"(?:{_QDTEXT}|{_QUOTED_PAIR})*\")(:[0-9]{{1,5}})?"
)
_QUOTED_PAIR_RE: Final = re.compile(r"\\([\t !-~\x80-\xff])")


def parse_forwarded(headers: Iterable[str]) -> tuple[Mapping[str, str], ...]:
    """Forwarded header values as one read-only mapping per element. A malformed element
    keeps the pairs before the damage, and parsing resumes at the next element."""
    elements: list[Mapping[str, str]] = []
    for field_value in headers:
        elem: dict[str, str] = {}
        elements.append(MappingProxyType(elem))
        pos, length = 0, len(field_value)
        need_separator = False  # a pair was just read: only ";", "," or blanks may follow
        while 0 <= pos < length:
            char = field_value[pos]
            if char == ",":
                elem = {}
                elements.append(MappingProxyType(elem))
                need_separator = False
                pos += 1
            elif char == ";":
                need_separator = False
                pos += 1
            elif char in " \t":
                pos += 1
            elif not need_separator and (match := _FORWARDED_PAIR_RE.match(field_value, pos)):
                name, value, port = match.groups()
                if value[0] == '"':
                    value = _QUOTED_PAIR_RE.sub(r"\1", value[1:-1])
                # The first of a repeated parameter wins: a proxy appends, never rewrites.
                elem.setdefault(name.lower(), value + port if port else value)
                need_separator = True
                pos = match.end()
            else:
                pos = field_value.find(",", pos)  # garbage: skip to the next element
    return tuple(elements)


# RFC 9110 14.1.2: digits are ASCII; re.ASCII keeps \d from matching other scripts'.
_RANGE_RE: Final = re.compile(r"bytes=(\d*)-(\d*)", re.ASCII | re.IGNORECASE)


def parse_range(value: str | None) -> slice:
    """A ``Range: bytes=first-last`` value as a slice (``slice(None, None, 1)`` when
    absent); ValueError when it is malformed or empty."""
    start: int | None = None
    end: int | None = None
    if value is not None:
        match = _RANGE_RE.fullmatch(value.strip())
        if match is None:
            raise ValueError("range not in acceptable format")
        first, last = match.groups()
        start = int(first) if first else None
        end = int(last) if last else None
        if start is None and end is not None:
            start, end = -end, None  # a suffix range: the last N bytes
        elif start is not None and end is not None:
            end += 1  # inclusive on the wire, exclusive in a slice
            if start >= end:
                raise ValueError("start cannot be after end")
        if start is end is None:
            raise ValueError("No start or end of range specified")
    return slice(start, end, 1)


def parse_http_date(value: str | None) -> datetime.datetime | None:
    """An HTTP date (``If-Modified-Since`` and the like), in UTC when it names no zone;
    None when absent or malformed."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def parse_content_type(raw: str | None) -> tuple[str, dict[str, str]]:
    """A ``Content-Type`` value as its lower-cased media type and its parameters (keys
    lower-cased, quotes stripped); ``application/octet-stream`` when absent or empty."""
    if raw is None:
        return "application/octet-stream", {}
    main, *params = raw.split(";")
    parsed = {}
    for param in params:
        key, _, val = param.strip().partition("=")
        if key:
            parsed[key.lower()] = val.strip().strip('"')
    return main.strip().lower() or "application/octet-stream", parsed
