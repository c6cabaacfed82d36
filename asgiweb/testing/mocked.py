"""Unit-testing helpers: a request, response sink and WebSocket channel without a server."""

from __future__ import annotations

import asyncio
import collections
import inspect
import warnings
from typing import TYPE_CHECKING, Any
from unittest import mock

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ..app import Application
from ..helpers import HttpVersion, HttpVersion10, HttpVersion11
from ..request import Request
from ..routing import ResourceRoute, UrlMappingMatchInfo
from ..streams import EMPTY_PAYLOAD, StreamReader
from ..transport import RequestHead
from ..ws_types import WSMessage, WSMsgType

if TYPE_CHECKING:
    from ..http.ws_handshake import DeflateParams

__all__ = ["MockSink", "MockWebSocketChannel", "make_mocked_coro", "make_mocked_request"]

_CLOSED = WSMessage(WSMsgType.CLOSED, None, None)
_CLOSING = WSMessage(WSMsgType.CLOSING, None, None)


class MockSink:
    """A response sink that keeps what a response sends, for assertions."""

    adds_default_headers = False
    detects_disconnect = False

    def __init__(self) -> None:
        self.started = False
        self.status: int | None = None
        self.reason: str | None = None
        self.headers: CIMultiDict[str] | None = None
        self.body = bytearray()
        self.finished = False
        self.aborted = False
        self.continue_sent = False
        #: The channel handed to a WebSocketResponse prepared on this request, if any.
        self.channel: MockWebSocketChannel | None = None

    def start(self, status: int, reason: str, headers: CIMultiDict[str], *_: Any) -> None:
        self.started = True
        self.status, self.reason, self.headers = status, reason, CIMultiDict(headers)

    async def flush(self) -> None:
        return None

    async def write(self, data: bytes) -> None:
        self.body += data

    async def write_eof(self, data: bytes = b"") -> None:
        self.body += data
        self.finished = True

    async def sendfile(self, file: Any, offset: int, count: int, chunk_size: int) -> None:
        file.seek(offset)
        self.body += file.read(count)

    async def send_continue(self) -> None:
        self.continue_sent = True

    def abort(self) -> None:
        self.aborted = True

    def websocket(
        self, *, deflate: DeflateParams | None, max_msg_size: int, writer_limit: int
    ) -> MockWebSocketChannel:
        """Upgrade: the 101 head is recorded as any other; messages go through a
        :class:`MockWebSocketChannel`."""
        self.channel = MockWebSocketChannel(deflate.server_max_window_bits if deflate else 0)
        return self.channel


class MockWebSocketChannel:
    """An in-memory WebSocket channel: the test feeds the peer's messages with
    :meth:`feed` and reads what the handler sent in :attr:`sent`."""

    server_managed = False
    last_activity = 0.0
    track_activity = False
    decode_text = True

    def __init__(self, compress: int = 0) -> None:
        self.compress = compress
        #: ``(opcode, data)`` of every message and control frame sent, in order.
        self.sent: list[tuple[int, bytes | str]] = []
        #: ``(code, reason)`` of the close frame sent, once one is.
        self.close_frame: tuple[int, bytes] | None = None
        self.disconnected = False
        self._incoming: collections.deque[WSMessage] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._interrupted = False

    def feed(self, message: WSMessage) -> None:
        """Deliver a message from the peer; ``WSMessage(WSMsgType.CLOSED, ...)`` ends it."""
        self._incoming.append(message)
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self) -> WSMessage:
        while True:
            if self._interrupted:
                self._interrupted = False
                return _CLOSING
            if self._incoming:
                message = self._incoming.popleft()
                if message.type is WSMsgType.TEXT and not self.decode_text:
                    message = message._replace(data=str(message.data).encode("utf-8"))
                return message
            if self.disconnected:
                return _CLOSED
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def interrupt(self) -> None:
        self._interrupted = True
        self._wake()

    async def send(self, data: bytes | str, opcode: int, compress: int | None = None) -> None:
        if self.disconnected or self.close_frame is not None:
            raise ConnectionResetError("Cannot write to a closing WebSocket")
        self.sent.append((opcode, data))

    async def close(self, code: int, reason: bytes, *, drain: bool = True) -> None:
        if self.close_frame is None:
            self.close_frame = (code, reason)

    def disconnect(self) -> None:
        self.disconnected = True
        self._wake()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class _MockTransport:
    def __init__(self, extra: dict[str, Any]) -> None:
        self._extra = extra

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return False


with warnings.catch_warnings():
    # Subclassing Application is discouraged for applications; this one is internal.
    warnings.simplefilter("ignore", DeprecationWarning)

    class _MockedApplication(Application):
        """The application of a mocked request made without one: a real application,
        except that its state takes any key silently, as aiohttp's mocked one does (a
        unit test storing ``request.app["db"]`` should not fail on NotAppKeyWarning)."""

        def __setitem__(self, key: Any, value: Any) -> None:
            self._check_frozen()
            self._state[key] = value


async def _no_handler(request: Request) -> Any:
    raise RuntimeError("make_mocked_request() gives the request no handler")


def make_mocked_request(
    method: str,
    path: str,
    headers: Any = None,
    *,
    match_info: dict[str, str] | None = None,
    version: HttpVersion = HttpVersion11,
    closing: bool = False,
    app: Application | None = None,
    writer: Any = None,
    transport: Any = None,
    payload: StreamReader | bytes = EMPTY_PAYLOAD,
    sslcontext: Any = None,
    client_max_size: int = 1024**2,
    loop: Any = None,
) -> Request:
    """A :class:`Request` for unit tests: no socket, no server.

    ``writer`` is the response sink (a :class:`MockSink` by default, which records the
    response, and upgrades a prepared WebSocketResponse to a
    :class:`MockWebSocketChannel`); ``payload`` is the body, as bytes or a
    :class:`StreamReader`. ``path`` may be an absolute URL: the request's scheme and host
    are then taken from it, as from an absolute-form request target.
    """
    url = URL(path)
    raw_headers = CIMultiDict(headers or {})
    if version < HttpVersion11:
        closing = closing or "keep-alive" not in raw_headers.get("Connection", "").lower()
    if isinstance(payload, (bytes, bytearray)):
        reader = StreamReader()
        reader.feed_data(bytes(payload))
        reader.feed_eof()
        payload = reader
    if transport is None:
        transport = _MockTransport(
            {
                "sslcontext": sslcontext,
                "peername": ("127.0.0.1", 12345),
                "sockname": ("127.0.0.1", 80),
            }  # fmt: skip
        )
    head = RequestHead(
        method.upper(),
        url.raw_path,
        url.raw_query_string,
        HttpVersion(*version) if version != HttpVersion10 else HttpVersion10,
        CIMultiDictProxy(raw_headers),
        tuple((k.encode("utf-8"), v.encode("utf-8")) for k, v in raw_headers.items()),
        scheme=url.scheme if url.absolute else "https" if sslcontext else "http",
        keep_alive=not closing,
        peername=transport.get_extra_info("peername"),
        sockname=transport.get_extra_info("sockname"),
        transport=transport,
        extra_info=transport.get_extra_info,
    )
    if app is None:
        app = _MockedApplication()
    if not app.frozen:
        # Routes and signals are fixed as for a running app; its state stays writable,
        # so a test can store values on request.app.
        app.pre_freeze()
    request = Request(
        head, payload, writer if writer is not None else MockSink(), client_max_size=client_max_size
    )
    if url.absolute:
        request._authority = url.raw_authority.rpartition("@")[2]  # no userinfo
    else:
        request._cache["raw_path"] = path  # as given, even unencoded: aiohttp keeps it
    route = ResourceRoute("*", _no_handler)
    info = UrlMappingMatchInfo(match_info or {}, route)
    info.add_app(app)
    request._match_info = info
    request._prepare_hooks = app._has_prepare_hooks
    return request


_UNSET: Any = object()


def make_mocked_coro(return_value: Any = _UNSET, raise_exception: Any = _UNSET) -> Any:
    """A :class:`unittest.mock.Mock` wrapping a coroutine function that returns
    ``return_value`` (awaited first if awaitable) or raises ``raise_exception``."""

    async def mock_coro(*args: Any, **kwargs: Any) -> Any:
        if raise_exception is not _UNSET:
            raise raise_exception
        if inspect.isawaitable(return_value):
            return await return_value
        return None if return_value is _UNSET else return_value

    return mock.Mock(wraps=mock_coro)
