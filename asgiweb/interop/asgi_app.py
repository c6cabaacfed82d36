"""Serve a foreign ASGI application under a path prefix of an asgiweb application.

``mount_asgi(app, "/new", starlette_app)`` sends every request whose path starts with
``/new/`` (or is ``/new``) to ``starlette_app``, on the native server and under any ASGI
server alike, so an application can move to or from asgiweb one route at a time.
Only HTTP is forwarded: WebSocket handshakes under the prefix are not (see
``docs/deployment.md``, "Mounting"). This module is an ASGI server of sorts: it builds
the scope and plays ``receive`` and ``send`` for the mounted application.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from multidict import CIMultiDict
from yarl import URL

from .. import hdrs
from ..response import StreamResponse
from ..routing.resources import route_path
from ..routing.routes import AbstractRoute, ResourceRoute, UrlMappingMatchInfo
from ..routing.staticfiles import PrefixResource

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ..app import Application
    from ..request import Request

__all__ = ["ASGIApp", "ASGIMountResource", "mount_asgi"]

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]

mount_logger = logging.getLogger("asgiweb.mount")

# One http.request message carries at most this much of the body.
BODY_CHUNK = 64 * 1024
# How often a mounted app waiting in receive() looks for a client that left.
DISCONNECT_POLL = 1.0
# RFC 3986 pchar plus "/": what stays unescaped in a path built by url_for.
_PATH_SAFE = "/!$&'()*+,;=:@"
# Hop-by-hop fields describe our connection, not the mounted app's (RFC 9110 7.6.1);
# framing is asgiweb's to choose.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class ASGIMountResource(PrefixResource):
    """Every path under ``prefix`` goes to a foreign ASGI application.

    Once the prefix matches, the mounted application answers, 404 included.
    """

    def __init__(self, prefix: str, asgi_app: ASGIApp, *, name: str | None = None) -> None:
        super().__init__(prefix, name=name)
        self._asgi_app = asgi_app
        self._route = ResourceRoute(hdrs.METH_ANY, self._handle, resource=self)
        # Filled by the application's lifespan startup (the ASGI "state" extension);
        # each request gets a shallow copy.
        self.lifespan_state: dict[str, Any] = {}

    @property
    def asgi_app(self) -> ASGIApp:
        return self._asgi_app

    def url_for(self, *, path: str = "") -> URL:  # type: ignore[override]
        """The URL of ``path`` inside the mounted application."""
        url = self.canonical
        if path:
            url += "/" + quote(path.lstrip("/"), safe=_PATH_SAFE)
        return URL.build(path=url or "/", encoded=True)

    def get_info(self) -> dict[str, Any]:
        return {"prefix": self._prefix, "app": self._asgi_app}

    async def resolve(self, request: Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        if self._rest(route_path(request)) is None:
            return None, set()
        return UrlMappingMatchInfo({}, self._route), set()

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter((self._route,))

    def __repr__(self) -> str:
        return f"<ASGIMountResource {self._prefix or '/'} -> {self._asgi_app!r}>"

    async def _handle(self, request: Request) -> StreamResponse:
        exchange = _Exchange(request)
        scope = self._scope(request, exchange.spec_version)
        try:
            await self._asgi_app(scope, exchange.receive, exchange.send)
        except Exception:
            if not exchange.client_gone:
                raise
            # The app noticed through send() that the client left: nothing to report.
            mount_logger.debug("Mounted application stopped: the client disconnected")
        finally:
            exchange.close()
        return exchange.result()

    def _scope(self, request: Request, spec_version: str) -> dict[str, Any]:
        """The ASGI HTTP scope for ``request``; ``path`` includes ``root_path``, as the
        ASGI spec's WSGI mapping and Starlette's ``Mount`` have it."""
        head = request._head
        outer_root = head.root_path
        version = request.version
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": spec_version},
            "http_version": "2" if version[0] == 2 else f"{version[0]}.{version[1]}",
            "method": request.method,
            "scheme": request.scheme,
            "path": outer_root + request.path,
            "raw_path": _to_bytes(quote(outer_root) + head.path),
            "root_path": outer_root + self._prefix,
            "query_string": _to_bytes(head.query_string),
            "headers": [(name.lower(), value) for name, value in head._raw],
            "client": _address(request.get_extra_info("peername")),
            "server": _address(request.get_extra_info("sockname")),
            "state": dict(self.lifespan_state),
        }


class _Exchange:
    """One request's ``receive`` and ``send``, turned into a :class:`StreamResponse`."""

    def __init__(self, request: Request) -> None:
        self._request = request
        # Spec 2.4 promises that send() raises an OSError once the client has gone: only
        # a sink that learns of it can keep that promise (see ResponseSink).
        self._detects_disconnect = request._sink.detects_disconnect
        self.spec_version = "2.4" if self._detects_disconnect else "2.3"
        self._start: Any = None
        self._response: StreamResponse | None = None
        self._body_done = False
        self._finished = False
        self._declared: int | None = None
        self._sent = 0
        self._done = asyncio.Event()
        self.client_gone = False

    # -- receive ------------------------------------------------------------------------
    async def receive(self) -> dict[str, Any]:
        """The next ``http.request`` message; ``http.disconnect`` once the body is over
        and the response is finished or the client left."""
        if not self._body_done:
            already_read = self._request._read_bytes
            if already_read is not None:  # a middleware awaited request.read() first
                self._body_done = True
                return {"type": "http.request", "body": already_read, "more_body": False}
            content = self._request.content
            try:
                chunk = await content.read(BODY_CHUNK)
            except ConnectionError:
                self._gone()
                return {"type": "http.disconnect"}
            if not chunk or content.at_eof():
                self._body_done = True
            return {"type": "http.request", "body": chunk, "more_body": not self._body_done}
        await self._wait_disconnect()
        return {"type": "http.disconnect"}

    async def _wait_disconnect(self) -> None:
        if not self._detects_disconnect:
            await self._done.wait()
            return
        # No sink calls back on a disconnect once the body is read: poll the transport
        # (None once the client left).
        while not self._done.is_set():
            transport = self._request.transport
            if transport is None or transport.is_closing():
                self._gone()
                return
            try:
                await asyncio.wait_for(self._done.wait(), DISCONNECT_POLL)
            except TimeoutError:
                continue

    def _gone(self) -> None:
        self.client_gone = True
        self._done.set()

    def close(self) -> None:
        """The app returned: a receive() still pending elsewhere answers at once."""
        self._done.set()

    # -- send ---------------------------------------------------------------------------
    async def send(self, message: Any) -> None:
        kind = message["type"]
        if self._finished:
            raise RuntimeError(f"Unexpected ASGI message {kind!r} sent, after response completed")
        if kind == "http.response.start":
            if self._start is not None:
                raise RuntimeError("Unexpected ASGI message 'http.response.start' sent twice")
            self._start = message
        elif kind == "http.response.body":
            if self._start is None:
                raise RuntimeError(
                    "Expected ASGI message 'http.response.start', but got 'http.response.body'"
                )
            await self._body(bytes(message.get("body", b"")), bool(message.get("more_body")))
        else:
            raise RuntimeError(f"Unexpected ASGI message {kind!r}")

    async def _body(self, body: bytes, more_body: bool) -> None:
        response = self._response
        try:
            if response is None:
                response = self._response = self._make_response(flush_head=not body and more_body)
                self._count(len(body), final=not more_body)  # before the head: a 500 is possible
                await response.prepare(self._request)
            else:
                self._count(len(body), final=not more_body)
            if more_body:
                await response.write(body)
            else:
                self._finished = True
                await response.write_eof(body)
                self._done.set()
        except ConnectionError:
            # Raised on to the app: ConnectionResetError is the OSError ASGI 2.4 asks for.
            self._gone()
            raise

    def _make_response(self, *, flush_head: bool) -> StreamResponse:
        start = self._start
        response = StreamResponse(status=start["status"])
        headers: CIMultiDict[str] = response.headers
        for raw_name, raw_value in start.get("headers", ()):
            name = bytes(raw_name).decode("latin-1")
            value = _decode_value(bytes(raw_value))
            lowered = name.lower()
            if lowered in _HOP_BY_HOP:
                if lowered == "connection" and "close" in value.lower():
                    response.force_close()
                continue
            if lowered == "content-length":
                if self._declared is not None:
                    # Two lengths would let a client and a proxy frame the body differently.
                    if int(value) != self._declared:
                        raise RuntimeError("Conflicting Content-Length headers")
                    continue
                self._declared = int(value)
            headers.add(name, value)
        if self._request.method == hdrs.METH_HEAD or response.status in (204, 304):
            self._declared = None  # no body follows, whatever the length says
        # A first piece of body goes out with the head in one write; an empty first
        # piece means "flush the head now" (a stream's headers before its first event).
        response._flush_head = flush_head
        return response

    def _count(self, size: int, *, final: bool) -> None:
        """Refuse to send more or fewer bytes than Content-Length declared: either would
        desynchronise a keep-alive connection."""
        declared = self._declared
        if declared is None:
            return
        self._sent += size
        if self._sent > declared:
            raise RuntimeError("Response content longer than Content-Length")
        if final and self._sent < declared:
            raise RuntimeError("Response content shorter than Content-Length")

    def result(self) -> StreamResponse:
        """The response the app sent, for ``respond`` to finish."""
        response = self._response
        if response is None and self.client_gone:
            # Nobody will read it; the access log shows why the request ended (nginx's 499).
            return StreamResponse(status=499, reason="Client Closed Request")
        if response is None:
            if self._start is None:
                raise RuntimeError("ASGI callable returned without starting response")
            raise RuntimeError("ASGI callable returned without sending the response body")
        if not self._finished and not self.client_gone:
            raise RuntimeError("ASGI callable returned without completing response")
        return response


class _ForeignLifespan:
    """Drives a foreign application's ASGI lifespan protocol from a task of its own."""

    def __init__(self, asgi_app: ASGIApp, state: dict[str, Any]) -> None:
        self._asgi_app = asgi_app
        self._state = state
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        scope: dict[str, Any] = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self._state,
        }
        await self._asgi_app(scope, self._inbox.get, self._outbox.put)

    async def _exchange(self, kind: str) -> dict[str, Any] | None:
        """Send ``kind``; the app's reply, or None when it returned without one."""
        assert self._task is not None
        await self._inbox.put({"type": kind})
        reply = asyncio.ensure_future(self._outbox.get())
        await asyncio.wait({reply, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if reply.done():
            return reply.result()
        reply.cancel()
        self._task.result()  # re-raises what the app raised
        return None

    async def startup(self) -> None:
        self._task = asyncio.create_task(self._run())
        try:
            reply = await self._exchange("lifespan.startup")
        except Exception:
            # ASGI lifespan spec: an app that raises here does not support lifespan.
            mount_logger.info("%r does not support ASGI lifespan", self._asgi_app, exc_info=True)
            self._task = None
            return
        if reply is None:
            self._task = None
            return
        if reply["type"] == "lifespan.startup.failed":
            await self._finish()
            raise RuntimeError(f"Mounted application startup failed: {reply.get('message', '')}")

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return
        reply = await self._exchange("lifespan.shutdown")
        await self._finish()
        if reply is not None and reply["type"] == "lifespan.shutdown.failed":
            raise RuntimeError(f"Mounted application shutdown failed: {reply.get('message', '')}")

    async def _finish(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await task
        except Exception:
            # Starlette re-raises after reporting a failure; the report already said it.
            mount_logger.debug("Mounted application's lifespan ended with an error", exc_info=True)


def _lifespan_context(
    asgi_app: ASGIApp, state: dict[str, Any]
) -> Callable[[Application], AsyncIterator[None]]:
    async def run_lifespan(app: Application) -> AsyncIterator[None]:
        lifespan = _ForeignLifespan(asgi_app, state)
        await lifespan.startup()
        yield
        await lifespan.shutdown()

    return run_lifespan


def _address(value: Any) -> list[Any] | None:
    """An ASGI ``[host, port]`` from a socket address; None for a Unix socket."""
    if isinstance(value, (tuple, list)) and len(value) >= 2:
        return [str(value[0]), int(value[1])]
    return None


def _to_bytes(text: str) -> bytes:
    # The transports decode the request target as latin-1: this gives back the bytes sent.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _decode_value(value: bytes) -> str:
    # Our sinks encode header values as UTF-8: a UTF-8 value goes out byte for byte.
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _check_prefix(prefix: str) -> str:
    if not prefix.startswith("/"):
        raise ValueError(f"prefix should start with '/': {prefix!r}")
    return prefix.rstrip("/")


def mount_asgi(
    app: Application,
    prefix: str,
    asgi_app: ASGIApp,
    *,
    name: str | None = None,
    lifespan: bool = False,
) -> ASGIMountResource:
    """Serve the ASGI application ``asgi_app`` under ``prefix`` (``"/"``: every path no
    other route takes). With ``lifespan``, its lifespan startup and shutdown run in
    ``app``'s startup and cleanup (an app that does not support lifespan is tolerated)."""
    resource = ASGIMountResource(_check_prefix(prefix), asgi_app, name=name)
    app.router.register_resource(resource)
    if lifespan:
        app.cleanup_ctx.append(_lifespan_context(asgi_app, resource.lifespan_state))
    return resource
