"""Multipart without I/O: the Content-Type, delimiter lines, and what a part's headers mean."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

from multidict import CIMultiDictProxy

from .. import hdrs
from .mime import TOKEN, MultipartError, disposition_param, parse_header_params

__all__ = [
    "HeaderLimitError",
    "InvalidCharsetError",
    "PartHeaders",
    "checked_charset",
    "content_length",
    "decode_header",
    "delimiter_ends",
    "parse_header_line",
    "parse_multipart_type",
]


class HeaderLimitError(MultipartError):
    """A part has too many header lines, or one longer than the limit."""


class InvalidCharsetError(MultipartError, RuntimeError):
    """A charset that names no known encoding, or a ``_charset_`` field too long to be one.

    A :class:`RuntimeError`, as aiohttp raises for ``_charset_``, and a
    :class:`MultipartError` so that ``request.post()`` answers 400.
    """


# RFC 2046 5.1.1: 1 to 70 of these characters, the last one not a space.
_BOUNDARY_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_HEADER_RE = re.compile(rb"(" + TOKEN.encode() + rb"):[ \t]*([^\x00\r\n]*)")
_PADDING_RE = re.compile(rb"[ \t]*")


def parse_multipart_type(content_type: str | None) -> tuple[str, bytes]:
    """The subtype and boundary of a ``multipart/*`` Content-Type (RFC 2046 5.1.1)."""
    if content_type is None:
        raise MultipartError("multipart body without a Content-Type header")
    parsed = parse_header_params(content_type)
    if parsed is None or not parsed[0].startswith("multipart/"):
        raise MultipartError(f"expected a multipart/* Content-Type, got {content_type!r}")
    boundary = parsed[1].get("boundary")
    if boundary is None:
        raise MultipartError(f"boundary missing from Content-Type {content_type!r}")
    if not _BOUNDARY_RE.fullmatch(boundary):
        raise MultipartError(
            f"invalid multipart boundary {boundary!r}: RFC 2046 allows 1 to 70 letters, "
            "digits or '()+_,-./:=? characters, not ending in a space"
        )
    return parsed[0].partition("/")[2], boundary.encode("ascii")


def delimiter_ends(data: bytes, end: int, eof: bool) -> bool | None:
    """Whether ``CRLF--boundary`` ending at ``end`` is a delimiter; None: more bytes needed.

    RFC 2046 5.1.1: a delimiter is followed by ``--`` (the closing one) or by optional
    whitespace and CRLF. Anything else, as in ``--boundary-inner``, makes it data: a
    nested part's longer boundary may start with its parent's. At the end of the body an
    undecided delimiter counts as one; the reader then finds its line incomplete.
    """
    n = len(data)
    if end < n and data[end] == 0x2D:  # "-"
        if end + 1 < n:
            return data[end + 1] == 0x2D
        return True if eof else None
    i = _PADDING_RE.match(data, end).end()  # type: ignore[union-attr]  # matches empty
    if i + 1 < n:
        return data[i] == 0x0D and data[i + 1] == 0x0A
    if i < n and data[i] != 0x0D:
        return False
    return True if eof else None


def parse_header_line(line: bytes) -> tuple[str, str]:
    """One ``Name: value`` line of a part's header block, without its CRLF."""
    match = _HEADER_RE.fullmatch(line)
    if match is None:
        raise MultipartError(f"invalid multipart header line {line[:100]!r}")
    name, value = match.groups()
    return name.decode("ascii"), decode_header(value.rstrip(b" \t"))


def decode_header(raw: bytes) -> str:
    # Browsers send raw UTF-8 in filename="..."; anything else is kept byte for byte.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def content_length(headers: Mapping[str, Any]) -> int | None:
    """A part's Content-Length, None when absent; a malformed one is an error."""
    value = headers.get(hdrs.CONTENT_LENGTH)
    if value is None:
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):
        raise MultipartError(f"invalid part Content-Length {text[:40]!r}")
    return int(text)


def checked_charset(charset: str) -> str:
    """``charset`` if Python knows the encoding, else :class:`InvalidCharsetError`."""
    try:
        codecs.lookup(charset)
    except LookupError:
        raise InvalidCharsetError(f"unknown charset {charset!r}") from None
    return charset


class PartHeaders:
    """What a part's headers say: its name, filename, charset and encodings."""

    def __init__(
        self, headers: CIMultiDictProxy[str], subtype: str, default_charset: str | None
    ) -> None:
        self.headers = headers
        self._subtype = subtype
        self._default_charset = default_charset

    @cached_property
    def _disposition(self) -> dict[str, str]:
        raw = self.headers.get(hdrs.CONTENT_DISPOSITION)
        parsed = parse_header_params(raw) if raw is not None else None
        return {} if parsed is None else parsed[1]

    @property
    def name(self) -> str | None:
        """The ``name`` parameter of Content-Disposition."""
        return disposition_param(self._disposition, "name")

    @property
    def filename(self) -> str | None:
        """The ``filename`` of Content-Disposition; ``filename*`` (RFC 5987) wins."""
        return disposition_param(self._disposition, "filename")

    def get_charset(self, default: str) -> str:
        """The charset of Content-Type, else the reader's default, else ``default``."""
        parsed = parse_header_params(self.headers.get(hdrs.CONTENT_TYPE, ""))
        charset = parsed[1].get("charset") if parsed is not None else None
        return charset or self._default_charset or default

    def _parse_json(self, data: bytes, encoding: str | None) -> Any:
        if not data:
            return None
        return json.loads(data.decode(encoding or self.get_charset("utf-8")))

    def _parse_form(self, data: bytes, encoding: str | None) -> list[tuple[str, str]]:
        if not data:
            return []
        charset = encoding or self.get_charset("utf-8")
        try:
            text = data.rstrip().decode(charset)
        except UnicodeDecodeError:
            raise MultipartError(f"data cannot be decoded with {charset} encoding") from None
        return parse_qsl(text, keep_blank_values=True, encoding=charset)
