"""What :meth:`RequestParser.feed <native_server.wire.parser.RequestParser.feed>` hands
the protocol, in wire order, for any number of pipelined requests.

A request is one :class:`~asgiweb.transport.RequestHead`, then its body as zero or more
``bytes`` chunks, then :data:`END_OF_MESSAGE`. A body chunk is plain ``bytes``, with no
wrapper: it is the hot path, and a wrapper would cost an allocation per chunk. Dispatch on
``type(event) is bytes``, then ``event is END_OF_MESSAGE``; what is left is a head.
"""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias

from asgiweb.transport import RequestHead

__all__ = ["END_OF_MESSAGE", "Data", "EndOfMessage", "Event", "RequestHead"]


class EndOfMessage(enum.Enum):
    """The type of :data:`END_OF_MESSAGE`: a one-member enum, so ``is`` narrows it."""

    END_OF_MESSAGE = "END_OF_MESSAGE"

    def __repr__(self) -> str:
        return "END_OF_MESSAGE"


#: A request's body (and its trailers, if any, which are dropped) is over.
END_OF_MESSAGE: Final = EndOfMessage.END_OF_MESSAGE

#: A piece of a request body, decoded from chunked framing if it was chunked.
Data: TypeAlias = bytes

#: One parser event.
Event: TypeAlias = RequestHead | Data | Literal[EndOfMessage.END_OF_MESSAGE]
