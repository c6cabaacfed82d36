"""Accept-Encoding, read once for both compression and pre-compressed files."""

from __future__ import annotations

__all__ = ["accepted_codings"]


# A client sends the same Accept-Encoding on every request, and a browser's is one of a
# handful: parsed once each. Bounded in count and in length, so that a client sending a
# new value every time costs a parse, never memory.
_PARSED: dict[str, frozenset[str]] = {}
_PARSED_MAX = 64
_CACHED_LENGTH = 128


def accepted_codings(header: str) -> frozenset[str]:
    """The content codings an Accept-Encoding value allows (q > 0); x-gzip is gzip."""
    codings = _PARSED.get(header)
    if codings is None:
        codings = _parse(header)
        if len(header) <= _CACHED_LENGTH:
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED[header] = codings
    return codings


def _parse(header: str) -> frozenset[str]:
    codings = set()
    for item in header.lower().split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding and quality > 0:  # RFC 9110 12.5.3: q=0 means "not acceptable"
            codings.add("gzip" if coding == "x-gzip" else coding)
    return frozenset(codings)
