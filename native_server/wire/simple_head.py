"""The plain request head, read without llhttp's callbacks: the accelerator's fast path.

Most requests are heads like ``GET /path?query HTTP/1.1`` with a Host and a few ordinary
fields, no body and nothing to negotiate. For those, ``simple_heads`` in the compiled
accelerator reads every such head at the start of a read in one C call, each made into a
:class:`~asgiweb.transport.RequestHead` by copying the connection's template; the
:class:`~native_server.wire.parser.RequestParser` gives every other head to llhttp, which
sees exactly the bytes it would have seen anyway.

What "plain" means is a strict subset of what the full path accepts, chosen so that both
ways make the same head of it:

* the request line is ``METHOD SP target SP HTTP/1.1 CRLF``, the method one of
  :data:`SIMPLE_METHODS`, the target in origin-form (``/`` then visible ASCII other than
  ``#``) no longer than ``max_line``;
* each field line is ``token ":" OWS value CRLF``, the value visible ASCII, spaces and
  tabs (leading ones dropped, trailing ones kept, as llhttp does); no more than
  ``max_fields`` of them (nor 64), no name or value longer than ``max_field``;
* exactly one Host, ``host[:port]`` with the host of unreserved characters only; at most
  one Connection, and only ``keep-alive`` (llhttp refuses what follows a ``close``);
  no Content-Length, Transfer-Encoding, Content-Encoding, Upgrade, Expect or
  Proxy-Connection (a body, an upgrade or an expectation take the full way);
* the whole head, through its empty line, within ``max_head`` bytes of ``pos``.

Anything else, including a head not complete yet, is None: nothing taken, and the full
way answers it (with the error it deserves, when it is one).

:func:`simple_head` and :func:`simple_heads` here are the specification and the
accelerator's pure-Python twins, which the tests hold the C functions to; without the
accelerator the server does not use them (llhttp reads every head: the same heads, at
the usual cost).
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["SIMPLE_MAX_FIELDS", "SIMPLE_METHODS", "SimpleHead", "simple_head", "simple_heads"]

#: The methods a plain head may have: those llhttp knows that need nothing special.
SIMPLE_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")
#: A head with more fields than this goes the full way, whatever ``max_fields`` says.
SIMPLE_MAX_FIELDS: Final = 64

#: ``(end, method, path, query, fields)``: ``end`` is where the head's empty line ends.
SimpleHead = tuple[int, str, str, str, list[tuple[bytes, bytes]]]

_REQUEST_LINE = re.compile(rb"([A-Z]+) (/[\x21\x22\x24-\x7e]*) HTTP/1\.1")
_FIELD_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\x20-\x7e\t]*)")
_HOST = re.compile(rb"[0-9A-Za-z\-._~]*(?::[0-9]*)?")
_FULL_WAY_FIELDS: Final = frozenset(
    (
        b"content-length",
        b"transfer-encoding",
        b"content-encoding",
        b"upgrade",
        b"expect",
        b"proxy-connection",
    )
)
_METHODS: Final = {name.encode(): name for name in SIMPLE_METHODS}


def simple_head(
    data: bytes | bytearray | memoryview,
    pos: int,
    max_line: int,
    max_field: int,
    max_fields: int,
    max_head: int,
) -> SimpleHead | None:
    """The plain head at ``data[pos:]``, or None (see the module's docstring)."""
    data = bytes(data)
    if pos < 0 or pos >= len(data):
        return None
    blank = data.find(b"\r\n\r\n", pos, min(len(data), pos + max_head))
    if blank == -1:
        return None
    lines = data[pos:blank].split(b"\r\n")
    request = _REQUEST_LINE.fullmatch(lines[0])
    if request is None:
        return None
    method = _METHODS.get(request[1])
    target = request[2]
    if method is None or len(target) > max_line:
        return None
    fields: list[tuple[bytes, bytes]] = []
    hosts = connections = 0
    for line in lines[1:]:
        field = _FIELD_LINE.fullmatch(line)
        if field is None:
            return None
        name, value = field[1], field[2]
        if (
            len(fields) >= min(max_fields, SIMPLE_MAX_FIELDS)
            or len(name) > max_field
            or len(value) > max_field
        ):
            return None
        lower = name.lower()
        if lower == b"host":
            hosts += 1
            if _HOST.fullmatch(value) is None:
                return None
        elif lower == b"connection":
            connections += 1
            if connections > 1 or value.lower() != b"keep-alive":
                return None
        elif lower in _FULL_WAY_FIELDS:
            return None
        fields.append((name, value))
    if hosts != 1:
        return None
    path, _, query = target.decode("ascii").partition("?")
    return blank + 4, method, path, query, fields


def simple_heads(
    data: bytes | bytearray | memoryview,
    pos: int,
    max_line: int,
    max_field: int,
    max_fields: int,
    max_head: int,
    template: Any,
    events: list[Any],
    end: object,
) -> int:
    """Every plain head from ``data[pos:]`` on, as :func:`simple_head` reads them one after
    the other: for each, a copy of ``template`` (an object of ``__slots__`` alone) with
    ``_raw``, ``method``, ``path`` and ``query_string`` set is appended to ``events``, then
    ``end``. Returns where the plain heads stop (``pos`` when there are none).

    The parser keeps one template a connection, holding what every plain head on it
    shares (version, scheme, addresses, ...): a copy costs one C call in the accelerator,
    where setting seventeen fields costs seventeen bytecode stores.
    """
    slots = _slots_of(type(template))
    while found := simple_head(data, pos, max_line, max_field, max_fields, max_head):
        pos, method, path, query, fields = found
        head = object.__new__(type(template))
        for name in slots:
            try:
                setattr(head, name, getattr(template, name))
            except AttributeError:
                pass  # unset in the template: unset in the copy
        head._raw = fields
        head.method = method
        head.path = path
        head.query_string = query
        events.append(head)
        events.append(end)
    return pos


def _slots_of(cls: type) -> tuple[str, ...]:
    if cls.__base__ is not object or "__slots__" not in vars(cls) or cls.__dictoffset__:
        raise TypeError("simple_heads() template must be of a __slots__ class on object")
    slots = vars(cls)["__slots__"]
    slots = (slots,) if isinstance(slots, str) else tuple(slots)
    for name in ("_raw", "method", "path", "query_string"):
        if name not in slots:
            raise TypeError(f"simple_heads() template has no slot {name}")
    return slots
