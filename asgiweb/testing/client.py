"""TestClient: aiohttp's ClientSession aimed at a test server (needs aiohttp)."""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

import aiohttp
from aiohttp.abc import AbstractCookieJar
from yarl import URL

from .. import hdrs
from ..app import Application
from ..request import BaseRequest, Request
from .base import BaseTestServer

if TYPE_CHECKING:
    from .servers import TestServer

__all__ = ["TestClient"]

_Request = TypeVar("_Request", bound=BaseRequest)
_ApplicationNone = TypeVar("_ApplicationNone", Application, None)
_Response = TypeVar("_Response")


class _RequestContext(Generic[_Response]):
    """What a request method returns: await it for the response, or use it in
    ``async with`` to have the response released on exit (as aiohttp's)."""

    __slots__ = ("_coro", "_resp")

    def __init__(self, coro: Coroutine[Any, Any, _Response]) -> None:
        self._coro: Coroutine[Any, Any, _Response] = coro
        self._resp: Any = None

    def __await__(self) -> Generator[Any, None, _Response]:
        return self._coro.__await__()

    async def __aenter__(self) -> _Response:
        self._resp = await self._coro
        entered: _Response = await self._resp.__aenter__()
        return entered

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._resp.__aexit__(exc_type, exc, tb)


class TestClient(Generic[_Request, _ApplicationNone]):
    """Requests to a test server through an :class:`aiohttp.ClientSession`.

    Paths are relative to the server (``client.get("/")``); cookies persist across
    requests, whatever the host (the jar is ``CookieJar(unsafe=True)``); :meth:`close`
    releases every response and WebSocket handed out, then closes the session and the
    server. Keyword arguments go to the ``ClientSession``.
    """

    __test__ = False

    @overload
    def __init__(
        self: TestClient[Request, Application],
        server: TestServer,
        *,
        cookie_jar: AbstractCookieJar | None = None,
        **kwargs: Any,
    ) -> None: ...
    @overload
    def __init__(
        self: TestClient[_Request, None],
        server: BaseTestServer,
        *,
        cookie_jar: AbstractCookieJar | None = None,
        **kwargs: Any,
    ) -> None: ...
    def __init__(
        self,
        server: BaseTestServer,
        *,
        cookie_jar: AbstractCookieJar | None = None,
        loop: Any = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(server, BaseTestServer):
            raise TypeError(f"server must be a test server, got {type(server)!r}")
        self._server = server
        self._loop = loop
        if cookie_jar is None:
            # unsafe: keep cookies set by a server addressed by IP (127.0.0.1).
            cookie_jar = aiohttp.CookieJar(unsafe=True)
        self._session = aiohttp.ClientSession(cookie_jar=cookie_jar, **kwargs)
        if hasattr(self._session, "_retry_connection"):
            # As aiohttp's test client: a request the server dropped fails instead of
            # being sent again, so a test sees what the server did.
            self._session._retry_connection = False
        self._closed = False
        self._responses: list[aiohttp.ClientResponse] = []
        self._websockets: list[aiohttp.ClientWebSocketResponse[Any]] = []

    async def start_server(self) -> None:
        await self._server.start_server(loop=self._loop)

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int | None:
        return self._server.port

    @property
    def server(self) -> BaseTestServer:
        return self._server

    @property
    def app(self) -> _ApplicationNone:
        return self._server.app  # type: ignore[return-value]

    @property
    def session(self) -> aiohttp.ClientSession:
        """The underlying session; its methods take absolute URLs (see :meth:`make_url`)."""
        return self._session

    def make_url(self, path: str | URL) -> URL:
        return self._server.make_url(path)

    async def _request(self, method: str, path: str | URL, **kwargs: Any) -> aiohttp.ClientResponse:
        resp = await self._session.request(method, self.make_url(path), **kwargs)
        self._responses.append(resp)
        return resp

    def request(
        self, method: str, path: str | URL, **kwargs: Any
    ) -> _RequestContext[aiohttp.ClientResponse]:
        """Send a request to ``path`` on the server: ``ClientSession.request``'s arguments."""
        return _RequestContext(self._request(method, path, **kwargs))

    def get(self, path: str | URL, **kwargs: Any) -> _RequestContext[aiohttp.ClientResponse]:
        return self.request(hdrs.METH_GET, path, **kwargs)

    def post(self, path: str | URL, **kwargs: Any) -> _RequestContext[aiohttp.ClientResponse]:
        return self.request(hdrs.METH_POST, path, **kwargs)

    def put(self, path: str | URL, **kwargs: Any) -> _RequestContext[aiohttp.ClientResponse]:
        return self.request(hdrs.METH_PUT, path, **kwargs)

    def patch(self, path: str | URL, **kwargs: Any) -> _RequestContext[aiohttp.ClientResponse]:
        return self.request(hdrs.METH_PATCH, path, **kwargs)

    def delete(self, path: str | URL, **kwargs: Any) -> _RequestContext[aiohttp.ClientResponse]:
        return self.request(hdrs.METH_DELETE, path, **kwargs)

    def head(self, path: str | URL, **kwargs: Any) -> _RequestContext[aiohttp.ClientResponse]:
        return self.request(hdrs.METH_HEAD, path, **kwargs)

    def options(self, path: str | URL, **kwargs: Any) -> _RequestContext[aiohttp.ClientResponse]:
        return self.request(hdrs.METH_OPTIONS, path, **kwargs)

    def ws_connect(
        self, path: str | URL, **kwargs: Any
    ) -> _RequestContext[aiohttp.ClientWebSocketResponse[Any]]:
        """Open a WebSocket to ``path``: ``ClientSession.ws_connect``'s arguments."""
        return _RequestContext(self._ws_connect(path, **kwargs))

    async def _ws_connect(
        self, path: str | URL, **kwargs: Any
    ) -> aiohttp.ClientWebSocketResponse[Any]:
        ws: aiohttp.ClientWebSocketResponse[Any] = await self._session.ws_connect(
            self.make_url(path), **kwargs
        )
        self._websockets.append(ws)
        return ws

    async def close(self) -> None:
        """Release the responses and WebSockets handed out, close the session, then the
        server. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for resp in self._responses:
            resp.close()
        for ws in self._websockets:
            await ws.close()
        await self._session.close()
        await self._server.close()

    def __enter__(self) -> None:
        raise TypeError("Use async with instead")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass  # pragma: no cover - only here to pair __enter__

    async def __aenter__(self) -> Self:
        await self.start_server()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
