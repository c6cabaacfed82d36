"""Response framing: the status line, header block and chunked encoding, as bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .accel import speedups

__all__ = ["serialize_head", "frame_chunk", "LAST_CHUNK", "CONTINUE_100"]

LAST_CHUNK = b"0\r\n\r\n"
CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"

_status_lines: dict[tuple[tuple[int, int], int, str], str] = {}


def _status_line(version: tuple[int, int], status: int, reason: str) -> str:
    key = (version, status, reason)
    line = _status_lines.get(key)
    if line is None:
        line = f"HTTP/{version[0]}.{version[1]} {status} {reason}\r\n"
        if len(_status_lines) < 512:  # custom reasons must not grow the cache without bound
            _status_lines[key] = line
    return line


def _py_serialize_head(
    version: tuple[int, int], status: int, reason: str, headers: Iterable[tuple[str, str]]
) -> bytes:
    block = "\r\n".join(map(": ".join, headers))
    line = _status_line(version, status, reason)
    # surrogateescape: the inverse of how request header values are decoded, so a value
    # copied from a request goes out with the bytes the client sent (not a 500).
    head = line + block + "\r\n\r\n" if block else line + "\r\n"
    return head.encode("utf-8", "surrogateescape")


#: ``serialize_head(version, status, reason, headers)``: the status line and header
#: block as UTF-8 bytes (surrogateescape); ``headers`` yields ``(name, value)`` pairs of
#: ``str``, which the core has validated. Compiled when the accelerator is in use (see
#: :mod:`.accel`).
serialize_head: Callable[[tuple[int, int], int, str, Iterable[tuple[str, str]]], bytes] = (
    _py_serialize_head if speedups is None else speedups.serialize_head
)


def frame_chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (RFC 9112 7.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)
