"""The seam between the core and a transport (the ASGI adapter or the native server).

A transport hands the core a :class:`RequestHead` and a body
:class:`~asgiweb.streams.StreamReader`, and receives the response through a
:class:`ResponseSink`. The core owns meaning (status, headers, body length,
keep-alive); a sink owns only framing and I/O. After a WebSocket handshake the sink
hands over a :class:`WebSocketChannel`, which owns only the wire work of messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Generic, Protocol, TypeVar

from multidict import CIMultiDict, CIMultiDictProxy

from .helpers import HttpVersion

if TYPE_CHECKING:
    from .http.ws_handshake import DeflateParams
    from .ws_types import WSMessage

__all__ = [
    "HeldHeadSink",
    "PathSendingSink",
    "RequestHead",
    "ResponseSink",
    "WebSocketChannel",
    "WebSocketOpener",
    "blank_head",
]


class RequestHead:
    """What a transport knows about a request before its body.

    Headers arrive as raw ``(name, value)`` byte pairs; the case-insensitive
    multidict is built only when something asks for it, which a plain request
    routed to a handler that ignores headers never does.
    """

    __slots__ = (
        "method",
        "path",
        "query_string",
        "version",
        "_raw",
        "_headers",
        "scheme",
        "root_path",
        "keep_alive",
        "expect",
        "has_body",
        "upgrade",
        "peername",
        "sockname",
        "transport",
        "extra_info",
        "authority",
        "_first",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str,
        version: HttpVersion,
        headers: CIMultiDictProxy[str] | None,
        raw_headers: Sequence[tuple[bytes, bytes]] | Sequence[list[bytes]],
        scheme: str = "http",
        root_path: str = "",
        keep_alive: bool = True,
        expect: bool | None = None,
        peername: Any = None,
        sockname: Any = None,
        transport: Any = None,
        extra_info: Callable[[str, Any], Any] | None = None,
        has_body: bool = False,
        upgrade: bool = False,
        authority: str | None = None,
    ) -> None:
        # (The native parser and the ASGI adapter start from blank_head() instead: a
        # call with this many keywords is slow, and positions unreadable.)
        self.method = method
        # Percent-encoded path below ``root_path``, as the client sent it.
        self.path = path
        self.query_string = query_string
        self.version = version
        self._raw = raw_headers
        self._headers = headers
        # First raw values of the fields scan_headers() remembers, when a transport
        # scanned these headers; None: look them up (see first_value).
        self._first: dict[bytes, bytes] | None = None
        self.scheme = scheme
        self.root_path = root_path
        self.keep_alive = keep_alive
        if expect is None:
            expect = "Expect" in self.headers
        #: True when the request carries an ``Expect`` header.
        self.expect = expect
        #: True when a body follows the head (a length above 0, or a transfer coding).
        self.has_body = has_body
        #: True when the connection switches protocols after this request.
        self.upgrade = upgrade
        self.peername = peername
        self.sockname = sockname
        self.transport = transport
        self.extra_info = extra_info
        #: ``host[:port]`` of an absolute-form target (RFC 9112 3.2.2), which overrides Host.
        self.authority = authority

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        headers = self._headers
        if headers is None:
            # Values may hold any octet (RFC 9110 5.5): keep undecodable bytes round-trippable.
            headers = self._headers = CIMultiDictProxy(
                CIMultiDict(
                    [
                        (name.decode("latin-1"), value.decode("utf-8", "surrogateescape"))
                        for name, value in self._raw
                    ]
                )
            )
        return headers

    def first_value(self, lname: bytes) -> str | None:
        """The first value of the field named ``lname`` (lower-case), as :attr:`headers`
        would give it, without building :attr:`headers` for one field."""
        first = self._first
        if first is not None and lname in REMEMBERED_FIELDS:
            # Noted by the transport's scan_headers(): no second pass over the headers.
            value = first.get(lname)
            return value.decode("utf-8", "surrogateescape") if value is not None else None
        if self._headers is not None:
            return self._headers.get(lname.decode("latin-1"))
        for name, value in self._raw:
            if len(name) == len(lname) and name.lower() == lname:
                return value.decode("utf-8", "surrogateescape")
        return None

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return tuple((name, value) for name, value in self._raw)


_new = object.__new__


def blank_head(
    raw_headers: Sequence[tuple[bytes, bytes]] | Sequence[list[bytes]],
    deferred: Callable[[Any], dict[str, Any]] | None = None,
    source: Any = None,
) -> RequestHead:
    """A :class:`RequestHead` with only its raw headers set, for a transport to set the
    other fields by name (a call with seventeen arguments costs more, and reads worse).

    With ``deferred``, the connection's fields the transport leaves unset (query_string,
    scheme, peername, sockname, transport, extra_info) come from ``deferred(source)`` when
    first read: the ASGI adapter leaves in the scope what a plain request never reads.
    """
    if deferred is None:
        head: RequestHead = _new(RequestHead)
    else:
        head = _new(_DeferredHead)
        head._fill = deferred
        head._fill_from = source
    head._raw = raw_headers
    head._headers = None
    head._first = None
    return head


def _deferred_field(name: str) -> property:
    # The field's own slot in RequestHead holds the value once it is known; reading it
    # unset raises AttributeError, the cue to fill. A property on the subclass only:
    # RequestHead itself has no __getattr__, which on CPython 3.11 would make every
    # attribute read of every head (a dozen a request) take the slow, unspecialised path.
    slot = RequestHead.__dict__[name]
    read, write = slot.__get__, slot.__set__

    def get(head: _DeferredHead) -> Any:
        try:
            return read(head)
        except AttributeError:
            head._load()
            return read(head)  # still unset: the filler does not give it either

    def set_(head: _DeferredHead, value: Any) -> None:
        write(head, value)

    return property(get, set_, doc=f"``{name}``, from the transport's filler when unset.")


class _DeferredHead(RequestHead):
    """A head whose connection fields come from ``_fill(_fill_from)`` on first read."""

    __slots__ = ("_fill", "_fill_from")

    _fill: Callable[[Any], dict[str, Any]]
    _fill_from: Any

    def _load(self) -> None:
        try:
            fill = self._fill
        except AttributeError:
            return  # filled once already
        del self._fill
        for field, value in fill(self._fill_from).items():
            slot = RequestHead.__dict__[field]
            try:
                slot.__get__(self)
            except AttributeError:  # set meanwhile by the transport: that value stands
                slot.__set__(self, value)

    if not TYPE_CHECKING:  # to mypy, the fields stay RequestHead's typed attributes
        query_string = _deferred_field("query_string")
        scheme = _deferred_field("scheme")
        peername = _deferred_field("peername")
        sockname = _deferred_field("sockname")
        transport = _deferred_field("transport")
        extra_info = _deferred_field("extra_info")


class ResponseSink(Protocol):
    """Where a response goes. Implemented once per transport.

    A sink whose connection can become a WebSocket also has a ``websocket`` method
    (see :class:`WebSocketOpener`); the core looks it up with ``getattr``.
    """

    #: True when the server adds its own ``Date`` and ``Server`` headers (ASGI servers do).
    adds_default_headers: bool
    #: True when the sink learns that the peer has gone: :meth:`write` then raises
    #: :class:`ConnectionResetError` and ``request.transport`` is closing (or None). The
    #: native sink learns it when the connection is lost, the ASGI ``http`` sink when it
    #: reads ``http.disconnect`` (while the body is read or the response streams). A
    #: foreign ASGI application mounted under asgiweb is told ASGI spec 2.4 (``send``
    #: raises ``OSError``) only on such a sink (``asgiweb/interop/asgi_app.py``): ask
    #: this, not which transport is beneath.
    detects_disconnect: bool
    #: True once :meth:`start` has been called.
    started: bool

    def start(
        self,
        status: int,
        reason: str,
        headers: CIMultiDict[str],
        chunked: bool,
        keep_alive: bool,
        body_allowed: bool,
        flush: bool,
    ) -> None:
        """Record the response head; :meth:`flush` or the first body bytes send it."""

    async def flush(self) -> None:
        """Send the recorded head now (a streamed response: the client sees it at once)."""

    async def write(self, data: bytes) -> None:
        """Send body bytes, waiting while the peer is slow to read."""

    async def write_eof(self, data: bytes = b"") -> None:
        """Send the last body bytes and end the response."""

    async def sendfile(self, file: BinaryIO, offset: int, count: int, chunk_size: int) -> None:
        """Send ``count`` bytes of ``file`` from ``offset`` as (the rest of) the body.

        The native server uses zero-copy ``loop.sendfile``; the ASGI sink streams
        ``chunk_size`` pieces (a whole file may go by name instead: see
        :class:`PathSendingSink`).
        """

    async def send_continue(self) -> None:
        """Send ``100 Continue`` if the transport has not done so itself."""

    def abort(self) -> None:
        """Give up on this response: the peer must not take a truncated body as whole."""


class PathSendingSink(ResponseSink, Protocol):
    """A sink that may hand the transport a whole file by its name: the optional hook
    (``getattr(sink, "can_send_path", False)``) of the ASGI ``http`` sink, whose server
    may offer the ``http.response.pathsend`` extension.

    ``FileResponse`` asks only for a body that is the file as it is on disk, whole (no
    range, no compression on the fly, a body allowed), once its head and conditions are
    settled; otherwise, or when :attr:`can_send_path` is False, it uses ``sendfile``.
    """

    @property
    def can_send_path(self) -> bool:
        """True when :meth:`send_path` may be used for this response."""

    async def send_path(self, path: str) -> None:
        """Send the file at the absolute ``path`` as the whole body, and end the response
        (the transport opens the file itself)."""


_Head = TypeVar("_Head")


class HeldHeadSink(Generic[_Head]):
    """When a sink's response head goes out, for every sink: ``start()`` holds it, and it
    leaves once, with the first body bytes or at :meth:`flush`, whichever comes first.
    (Head and first bytes in one write: one packet, and a streamed response that flushes
    shows its client the head at once.)

    A sink stores its head, in its own form, in ``_held`` and sends it in
    :meth:`_send_head`. Its ``write`` and ``write_eof`` may take the head inline, to send
    it with the bytes: read ``_held``, and if it is not None, set it to None and send it.
    """

    __slots__ = ("_held", "started")

    def __init__(self) -> None:
        self._held: _Head | None = None
        #: True once ``start()`` has been called.
        self.started = False

    @property
    def head_held(self) -> bool:
        """True while a head is recorded and not sent yet."""
        return self._held is not None

    async def flush(self) -> None:
        """Send the held head now, if it has not gone yet."""
        head = self._held
        if head is not None:
            self._held = None
            await self._send_head(head)

    def _send_head(self, head: _Head) -> Awaitable[None]:
        """Send ``head`` alone (:meth:`flush`, or a body that cannot carry it)."""
        raise NotImplementedError


class WebSocketChannel(Protocol):
    """A WebSocket connection's wire work, implemented once per transport.

    :class:`~asgiweb.websocket.WebSocketResponse` owns the meaning (states, autoping,
    heartbeat, JSON, timeouts, close codes); a channel only moves messages. Its opening
    handshake answer is the response head: the sink's ``start(101, ...)`` sends it.
    """

    #: True when the server beneath answers pings, sends its own keep-alive pings,
    #: negotiates compression and limits frames (ASGI servers do): then PING and PONG
    #: are never received and sending them does nothing.
    server_managed: bool
    #: The permessage-deflate window bits messages are compressed with; 0 for none.
    compress: int
    #: Loop time when bytes last arrived from the peer; drives the heartbeat.
    last_activity: float
    #: Set by a heartbeat that reads :attr:`last_activity`; until then a channel need
    #: not keep it current (reading the clock per message is not free).
    track_activity: bool

    async def receive(self) -> WSMessage:
        """The peer's next message: TEXT, BINARY, PING, PONG or CLOSE; CLOSED once the
        connection is gone without a close frame; CLOSING after :meth:`interrupt`.

        Raises :class:`~asgiweb.ws_types.WebSocketError` when the peer broke the
        protocol; every later call raises it again.
        """

    def interrupt(self) -> None:
        """Make a pending :meth:`receive` return CLOSING now, where the transport can.

        (Under ASGI it cannot, and need not: once ``websocket.close`` is sent, the
        server answers a pending receive with ``websocket.disconnect``.)
        """

    async def send(self, data: bytes | str, opcode: int, compress: int | None = None) -> None:
        """Send one message or control frame; waits while the peer is slow to read.
        TEXT may come as ``str`` (the ASGI channel passes it on without re-decoding).

        Raises :class:`ConnectionResetError` once the connection is closing.
        """

    async def close(self, code: int, reason: bytes, *, drain: bool = True) -> None:
        """Send a close frame (the reply, if any, arrives through :meth:`receive`)."""

    def disconnect(self) -> None:
        """End the connection: bytes already queued still go out, nothing is added."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport information such as ``peername``, as ``asyncio`` transports give it."""


class WebSocketOpener(Protocol):
    """The optional sink hook: ``sink.websocket(...)`` on a sink that can upgrade."""

    def __call__(
        self, *, deflate: DeflateParams | None, max_msg_size: int, writer_limit: int
    ) -> WebSocketChannel | None:
        """The channel for this request's connection, or None when it cannot be upgraded."""


def scan_headers(
    raw_headers: Iterable[tuple[bytes, bytes]] | Iterable[list[bytes]],
    lowercase: bool = False,
) -> tuple[int, bool, bool, bool, bytes | None, dict[bytes, bytes]]:
    """What a transport must know from the raw header names before routing:
    ``(Host count, a body follows, Expect present, Upgrade present, Connection value,
    first values)``; the values of several Connection fields come joined with commas,
    and the first values are those of the :data:`REMEMBERED_FIELDS` present, by
    lower-case name, for the head's ``_first`` (read-only: it may be shared).

    Names are compared lower-cased (``lowercase``: they already are, as ASGI promises);
    one pass, shared by both transports.
    """
    hosts = 0
    has_body = expect = upgrade = False
    connection = None
    first = NONE_REMEMBERED
    scanned = _SCANNED
    for name, value in raw_headers:
        lname = name if lowercase else name.lower()
        if lname not in scanned:  # most headers: one set lookup, not seven comparisons
            continue
        if lname == b"host":
            hosts += 1
        elif lname in REMEMBERED_FIELDS:
            if lname == b"content-length":
                has_body = value != b"0"
            if first is NONE_REMEMBERED:
                first = {}
            if lname not in first:
                first[lname] = value
        elif lname == b"transfer-encoding":
            has_body = True
        elif lname == b"connection":
            # Several fields are one list (RFC 9110 5.3): a later one must not hide "close".
            connection = value if connection is None else connection + b", " + value
        elif lname == b"expect":
            expect = True
        else:
            upgrade = True
    return hosts, has_body, expect, upgrade, connection, first


#: Fields whose first raw value :func:`scan_headers` notes, so that reading them later
#: (``Request.content_length``, the body's decoding) takes no second pass.
REMEMBERED_FIELDS: Final = frozenset((b"content-length", b"content-encoding"))
#: The ``_first`` of a head with none of the :data:`REMEMBERED_FIELDS` (shared: read-only).
NONE_REMEMBERED: Final[dict[bytes, bytes]] = {}
_SCANNED = frozenset(
    (b"host", b"transfer-encoding", b"connection", b"expect", b"upgrade") + tuple(REMEMBERED_FIELDS)
)
