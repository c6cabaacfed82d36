"""The server side of the WebSocket opening handshake (RFC 6455 §4.2) and of the
permessage-deflate negotiation (RFC 7692 §7), sans-IO: request headers in, response
headers out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from multidict import MultiMapping

__all__ = [
    "WS_VERSION",
    "DeflateParams",
    "Handshake",
    "HandshakeError",
    "accept_key",
    "handshake",
    "negotiate_deflate",
    "parse_extensions",
    "select_protocol",
    "validate_request",
]

#: RFC 6455 §1.3: appended to the client's key before hashing it into the accept value.
_WS_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: The only version RFC 6455 defines (§4.1); drafts 7 and 8 are not served.
WS_VERSION: Final = "13"

# RFC 9110 §5.6.2 token; RFC 6455 §9.1 allows a token or a quoted-string as a param value.
_TOKEN: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_EXTENSION_RE: Final = re.compile(rf"[\s,]*({_TOKEN})")
_PARAM_RE: Final = re.compile(
    rf'[ \t]*;[ \t]*({_TOKEN})(?:[ \t]*=[ \t]*(?:({_TOKEN})|"((?:[^"\\]|\\.)*)"))?'
)
_ELEMENT_END_RE: Final = re.compile(r"[ \t]*(?:,|$)")
# The rest of a malformed element: up to and including the next comma outside quotes.
_SKIP_ELEMENT_RE: Final = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*"?)*,?')
_QUOTED_PAIR_RE: Final = re.compile(r"\\(.)")
# RFC 7692 §7.1.2: a decimal 8..15 without leading zeros.
_WINDOW_BITS_RE: Final = re.compile(r"[89]|1[0-5]")
_DEFLATE_PARAMS: Final = frozenset(
    {
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    }
)

ExtensionOffer = tuple[str, list[tuple[str, str | None]]]


class HandshakeError(Exception):
    """Not an acceptable opening handshake: answer ``status`` with ``headers``; don't upgrade."""

    def __init__(self, status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """The permessage-deflate parameters in force after the handshake (RFC 7692 §7.1)."""

    #: The server compresses each message with a fresh context.
    server_no_context_takeover: bool = False
    #: The client compresses each message with a fresh context (we may reset our inflater).
    client_no_context_takeover: bool = False
    #: The LZ77 window the server compresses with, 9..15.
    server_max_window_bits: int = 15
    #: The most the client may use, 8..15; informational, we always inflate with 15.
    client_max_window_bits: int = 15


@dataclass(frozen=True, slots=True)
class Handshake:
    """An accepted handshake: the headers to send with ``101 Switching Protocols``."""

    headers: list[tuple[str, str]]
    protocol: str | None
    deflate: DeflateParams | None


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1(key.encode("ascii") + _WS_GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def _tokens(headers: MultiMapping[str], name: str) -> set[str]:
    """The lower-cased comma-separated tokens of every ``name`` header line."""
    return {token.strip().lower() for line in headers.getall(name, []) for token in line.split(",")}


def validate_request(method: str, version: tuple[int, int], headers: MultiMapping[str]) -> str:
    """Check a request is a WebSocket opening handshake (RFC 6455 §4.2.1); return its key.

    Raises :class:`HandshakeError`: 400 for a malformed handshake, 426 with
    ``Sec-WebSocket-Version: 13`` for a version we do not speak (§4.2.2, §4.4).
    """
    if method != "GET":
        raise HandshakeError(400, f"WebSocket handshake must be a GET request, not {method}")
    if tuple(version) < (1, 1):
        raise HandshakeError(400, "WebSocket handshake needs HTTP/1.1 or later")
    # aiohttp's words for the two common mistakes (a plain GET to a WebSocket route).
    if "websocket" not in _tokens(headers, "Upgrade"):
        raise HandshakeError(
            400,
            f"No WebSocket UPGRADE hdr: {headers.get('Upgrade')}\n"
            ' Can "Upgrade" only to "WebSocket".',
        )
    if "upgrade" not in _tokens(headers, "Connection"):
        raise HandshakeError(400, f"No CONNECTION upgrade hdr: {headers.get('Connection')}")
    versions = [v.strip() for v in headers.getall("Sec-WebSocket-Version", [])]
    if not versions:
        raise HandshakeError(400, "WebSocket handshake needs a Sec-WebSocket-Version header")
    if versions != [WS_VERSION]:
        raise HandshakeError(
            426,
            f"Unsupported Sec-WebSocket-Version {', '.join(versions)!r}: only 13 is supported",
            (("Sec-WebSocket-Version", WS_VERSION),),
        )
    keys = headers.getall("Sec-WebSocket-Key", [])
    # §11.3.1: the key must not appear more than once.
    if len(keys) != 1:
        raise HandshakeError(400, "WebSocket handshake needs exactly one Sec-WebSocket-Key")
    key = keys[0].strip()
    try:
        nonce = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        nonce = b""
    if len(nonce) != 16:  # §4.1: a base64-encoded 16-byte nonce
        raise HandshakeError(400, f"Invalid Sec-WebSocket-Key {key!r}")
    return key


def select_protocol(headers: MultiMapping[str], protocols: Iterable[str]) -> str | None:
    """The subprotocol to agree to, or ``None`` when the lists do not overlap.

    As aiohttp does: the first protocol in the *client's* order that the server knows.
    """
    known = frozenset(protocols)
    if not known:
        return None
    for line in headers.getall("Sec-WebSocket-Protocol", []):
        for offered in line.split(","):
            offered = offered.strip()
            if offered in known:
                return offered
    return None


def parse_extensions(value: str) -> list[ExtensionOffer]:
    """``Sec-WebSocket-Extensions`` (RFC 6455 §9.1) as ``(name, [(param, value)])`` offers.

    Quoted values are unquoted. A malformed element is skipped, so a garbled offer
    costs at most compression, never the connection.
    """
    offers: list[ExtensionOffer] = []
    pos = 0
    while (match := _EXTENSION_RE.match(value, pos)) is not None:
        params: list[tuple[str, str | None]] = []
        pos = match.end()
        while (param := _PARAM_RE.match(value, pos)) is not None:
            quoted = param.group(3)
            raw = param.group(2) if quoted is None else _QUOTED_PAIR_RE.sub(r"\1", quoted)
            params.append((param.group(1), raw))
            pos = param.end()
        end = _ELEMENT_END_RE.match(value, pos)
        if end is not None:
            offers.append((match.group(1), params))
            pos = end.end()
        else:
            pos = _skip_element(value, pos)
    return offers


def _skip_element(value: str, pos: int) -> int:
    skipped = _SKIP_ELEMENT_RE.match(value, pos)
    return len(value) if skipped is None else skipped.end()


def _window_bits(raw: str | None) -> int | None:
    return int(raw) if raw is not None and _WINDOW_BITS_RE.fullmatch(raw) else None


def _accept_offer(
    params: list[tuple[str, str | None]], max_bits: int
) -> tuple[DeflateParams, str] | None:
    """Accept one permessage-deflate offer, or ``None`` to decline it (RFC 7692 §7.1)."""
    seen: dict[str, str | None] = {}
    for name, raw in params:
        name = name.lower()
        # §7: decline an unknown parameter, a repeated one, or an invalid value.
        if name not in _DEFLATE_PARAMS or name in seen:
            return None
        seen[name] = raw
    response = ["permessage-deflate"]
    for flag in ("server_no_context_takeover", "client_no_context_takeover"):
        if flag in seen:
            if seen[flag] is not None:
                return None
            # §7.1.1.1 requires the echo for the server flag; echoing the client's own
            # promise (§7.1.1.2) lets us drop the inflate window after each message.
            response.append(flag)
    server_bits = max_bits
    if "server_max_window_bits" in seen:
        offered = _window_bits(seen["server_max_window_bits"])
        # 8 is valid in §7.1.2.1, but zlib's raw deflate cannot honour a 256-byte window.
        if offered is None or offered < 9:
            return None
        server_bits = min(offered, max_bits)
        response.append(f"server_max_window_bits={server_bits}")
    client_bits = 15
    if "client_max_window_bits" in seen and seen["client_max_window_bits"] is not None:
        # §7.1.2.2: the value only bounds the client's compressor; we inflate with 15.
        offered = _window_bits(seen["client_max_window_bits"])
        if offered is None:
            return None
        client_bits = offered
    negotiated = DeflateParams(
        server_no_context_takeover="server_no_context_takeover" in seen,
        client_no_context_takeover="client_no_context_takeover" in seen,
        server_max_window_bits=server_bits,
        client_max_window_bits=client_bits,
    )
    return negotiated, "; ".join(response)


def _max_window_bits(compress: bool | int) -> int | None:
    """The server's window from aiohttp's ``compress`` (``True``, or window bits 9..15)."""
    if compress is True:
        return 15
    if compress is False or compress == 0:
        return None
    if not 9 <= compress <= 15:
        raise ValueError(f"compress must be a bool or window bits 9..15, not {compress!r}")
    return compress


def negotiate_deflate(
    value: str, *, compress: bool | int = True
) -> tuple[DeflateParams, str] | None:
    """Accept the first acceptable permessage-deflate offer in a ``Sec-WebSocket-Extensions``
    value; return its parameters and the response header value, or ``None``."""
    max_bits = _max_window_bits(compress)
    if max_bits is None:
        return None
    for name, params in parse_extensions(value):
        if name.lower() == "permessage-deflate":
            accepted = _accept_offer(params, max_bits)
            if accepted is not None:
                return accepted
    return None


def handshake(
    method: str,
    version: tuple[int, int],
    headers: MultiMapping[str],
    *,
    protocols: Iterable[str] = (),
    compress: bool | int = True,
) -> Handshake:
    """Validate an opening handshake and build the 101 response headers.

    ``protocols`` and ``compress`` are the server's settings, as on aiohttp's
    ``WebSocketResponse``. Raises :class:`HandshakeError`.
    """
    key = validate_request(method, version, headers)
    protocol = select_protocol(headers, protocols)
    response = [
        ("Upgrade", "websocket"),
        ("Connection", "upgrade"),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ]
    if protocol is not None:
        response.append(("Sec-WebSocket-Protocol", protocol))
    deflate = None
    offers = ", ".join(headers.getall("Sec-WebSocket-Extensions", []))
    negotiated = negotiate_deflate(offers, compress=compress)
    if negotiated is not None:
        deflate, extension = negotiated
        response.append(("Sec-WebSocket-Extensions", extension))
    return Handshake(response, protocol, deflate)
