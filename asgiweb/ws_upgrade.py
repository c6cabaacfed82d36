"""Upgrading a request to a WebSocket: the opening handshake answered (the checks are
sans-IO, in :mod:`asgiweb.http.ws_handshake`), a refusal raised as the HTTP exception
aiohttp raises, and the message channel the transport opens for the connection."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from .exceptions import HTTPBadRequest, HTTPException, HTTPUpgradeRequired
from .http.ws_handshake import Handshake, HandshakeError, handshake

if TYPE_CHECKING:
    from .request import BaseRequest
    from .transport import WebSocketChannel, WebSocketOpener

__all__ = ["accept_handshake", "negotiate", "open_channel"]

_logger = logging.getLogger("asgiweb.websocket")


class _UnsupportedVersion(HTTPUpgradeRequired, HTTPBadRequest):
    """426 with the version we speak (RFC 6455 §4.4), and also an HTTPBadRequest: that
    is what aiohttp raises for an unknown version, and what its users catch."""


_HANDSHAKE_ERRORS: Final[dict[int, type[HTTPException]]] = {426: _UnsupportedVersion}


def negotiate(request: BaseRequest, protocols: tuple[str, ...], compress: bool | int) -> Handshake:
    """The answer to the opening handshake in ``request``; raises :class:`HandshakeError`."""
    return handshake(
        request.method,
        request.version,
        request.headers,
        protocols=protocols,
        compress=compress,
    )


def accept_handshake(
    request: BaseRequest, protocols: tuple[str, ...], compress: bool | int
) -> Handshake:
    """:func:`negotiate`, a refusal raised as an :class:`HTTPException` (400, or 426 for
    an unsupported version); a client none of whose subprotocols we speak is logged."""
    try:
        shake = negotiate(request, protocols, compress)
    except HandshakeError as exc:
        cls = _HANDSHAKE_ERRORS.get(exc.status, HTTPBadRequest)
        raise cls(text=exc.reason, headers=exc.headers or None) from None
    if shake.protocol is None and protocols:
        offered = request.headers.get("Sec-WebSocket-Protocol")
        if offered:
            _logger.warning(
                "%s: Client protocols %r don\u2019t overlap server-known ones %r",
                request.remote,
                offered,
                protocols,
            )
    return shake


def open_channel(
    request: BaseRequest,
    shake: Handshake,
    *,
    max_msg_size: int,
    writer_limit: int,
    decode_text: bool,
) -> WebSocketChannel:
    """The channel the transport serving ``request`` opens for the WebSocket;
    :class:`RuntimeError` when it cannot switch protocols."""
    opener: WebSocketOpener | None = getattr(request._sink, "websocket", None)
    channel = None
    if opener is not None:
        channel = opener(
            deflate=shake.deflate, max_msg_size=max_msg_size, writer_limit=writer_limit
        )
    if channel is None:
        raise RuntimeError(
            "Cannot upgrade this request to a WebSocket: its transport cannot switch "
            "protocols (under ASGI, the server must deliver the handshake as a "
            "'websocket' scope, not an 'http' one)"
        )
    if not decode_text:
        # Every channel of ours has the switch; the seam's Protocol does not list it.
        setattr(channel, "decode_text", False)  # noqa: B010
    return channel
