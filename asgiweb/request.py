"""BaseRequest and Request: one request, whatever transport carried it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import socket
import warnings
from collections.abc import Iterator, Mapping, MutableMapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast, overload
from urllib.parse import parse_qsl, quote

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy
from yarl import URL

from . import hdrs
from .exceptions import HTTPBadRequest, HTTPRequestEntityTooLarge
from .forms import FileField, read_form
from .helpers import ChainMapProxy, HttpVersion, reify
from .http.cookies import parse_cookie_header
from .http.mime import MultipartError
from .http.request_headers import (
    ETag,
    check_etag_value,
    parse_content_type,
    parse_etag,
    parse_etag_list,
    parse_forwarded,
    parse_http_date,
    parse_range,
)
from .keys import RequestKey
from .multipart import MultipartReader
from .streams import EMPTY_PAYLOAD, StreamReader
from .transport import RequestHead

if TYPE_CHECKING:
    from .app import Application
    from .response import StreamResponse
    from .routing import UrlMappingMatchInfo
    from .transport import ResponseSink

__all__ = [
    "BaseRequest",
    "Request",
    "ETag",
    "parse_etag",
    "check_etag_value",
    "parse_cookie_header",
    "parse_forwarded",
]

_T = TypeVar("_T")


_POST_METHODS = frozenset({"POST", "PUT", "PATCH", "TRACE", "DELETE"})
_FORM_TYPES = frozenset({"", "application/x-www-form-urlencoded", "multipart/form-data"})


class BaseRequest(MutableMapping[str, Any]):
    """An incoming request, also a mapping for sharing data along the handler chain."""

    #: True when some application on the route has on_response_prepare receivers.
    _prepare_hooks = False
    _post: MultiDictProxy[Any] | None = None
    _read_bytes: bytes | None = None
    _form_files: tuple[Any, ...] = ()
    #: The host[:port] of an absolute-form request target (RFC 9112 3.2.2: it outranks
    #: the Host header); None for the usual origin-form target.
    _authority: str | None = None

    def __init__(
        self,
        head: RequestHead,
        payload: StreamReader,
        sink: ResponseSink,
        client_max_size: int = 1024**2,
        task: asyncio.Task[Any] | None = None,
        *,
        state: dict[Any, Any] | None = None,
    ) -> None:
        # client_max_size and task may come positionally: a class called with keywords
        # pays for a keyword dict, and the server makes one request per request.
        self._head = head
        self._payload = payload
        self._sink = sink
        self._client_max_size = client_max_size
        self._task = task
        self._state = {} if state is None else state
        self._cache: dict[str, Any] = {}
        # Read for every request (by Response._send and respond()): as instance values
        # the reads are specialised; a class-level default is a slow read on CPython 3.11.
        self._prepare_hooks = False
        self._form_files = ()

    def clone(
        self,
        *,
        method: str | None = None,
        rel_url: str | URL | None = None,
        headers: Any = None,
        scheme: str | None = None,
        host: str | None = None,
        remote: str | None = None,
        client_max_size: int | None = None,
    ) -> Self:
        """A copy of this request with some attributes replaced (of the same class)."""
        head = _cloned_head(self._head, method, rel_url, headers)
        new = self._clone_into(head, client_max_size)
        new._authority = self._target_authority()
        for name, value in (("scheme", scheme), ("host", host), ("remote", remote)):
            if value is not None:
                new._cache[name] = value  # what the reified property would compute
        new._read_bytes = self._read_bytes
        # Each subclass's _clone_into builds its own class (Request's builds a Request).
        return cast(Self, new)

    def _clone_into(self, head: RequestHead, client_max_size: int | None) -> BaseRequest:
        return BaseRequest(
            head,
            self._payload,
            self._sink,
            client_max_size=self._client_max_size if client_max_size is None else client_max_size,
            task=self._task,
            state=self._state.copy(),
        )

    # -- the mapping ------------------------------------------------------------------
    @overload
    def __getitem__(self, key: RequestKey[_T]) -> _T: ...
    @overload
    def __getitem__(self, key: str) -> Any: ...
    def __getitem__(self, key: str | RequestKey[_T]) -> Any:
        return self._state[key]

    @overload
    def __setitem__(self, key: RequestKey[_T], value: _T) -> None: ...
    @overload
    def __setitem__(self, key: str, value: Any) -> None: ...
    def __setitem__(self, key: str | RequestKey[_T], value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: str | RequestKey[Any]) -> None:
        del self._state[key]

    def __len__(self) -> int:
        return len(self._state)

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        path = self.path.encode("ascii", "backslashreplace").decode("ascii")
        return f"<{type(self).__name__} {self.method} {path} >"

    # -- the request line ---------------------------------------------------------------
    @property
    def task(self) -> asyncio.Task[Any] | None:
        """The task handling this request."""
        if self._task is None:
            # Under ASGI the request is handled by the task that built it.
            with contextlib.suppress(RuntimeError):
                self._task = asyncio.current_task()
        return self._task

    @property
    def method(self) -> str:
        """The request method, upper-case: ``"GET"``, ``"POST"``, ..."""
        return self._head.method

    @property
    def version(self) -> HttpVersion:
        """The HTTP version the client spoke, e.g. ``HttpVersion(1, 1)``."""
        return self._head.version

    @property
    def keep_alive(self) -> bool:
        """True when the connection may serve another request after this one."""
        return self._head.keep_alive

    @property
    def client_max_size(self) -> int:
        """The largest body, in bytes, that ``read()`` and ``post()`` accept."""
        return self._client_max_size

    @reify
    def rel_url(self) -> URL:
        """The path and query below the mount point, as a relative URL."""
        head = self._head
        return URL.build(path=head.path, query_string=head.query_string, encoded=True)

    @reify
    def url(self) -> URL:
        """The absolute URL, including the prefix this application is mounted under."""
        head = self._head
        # root_path arrives decoded; the URL is built from encoded parts.
        path = quote(head.root_path) + head.path if head.root_path else head.path
        return URL.build(
            scheme=self.scheme,
            authority=self.host,
            path=path,
            query_string=head.query_string,
            encoded=True,
        )

    @reify
    def path(self) -> str:
        """The decoded path."""
        return self.rel_url.path

    @reify
    def raw_path(self) -> str:
        """The path as sent, with the query string; percent-encoding kept."""
        head = self._head
        return f"{head.path}?{head.query_string}" if head.query_string else head.path

    @reify
    def path_qs(self) -> str:
        """The decoded path with the query string."""
        return str(self.rel_url)

    @property
    def query_string(self) -> str:
        """The query string, decoded (``request.raw_path`` keeps it as sent)."""
        return self.rel_url.query_string

    @reify
    def query(self) -> MultiDictProxy[str]:
        """The query string's parameters, decoded, as a read-only multidict."""
        return self.rel_url.query

    # -- connection facts ---------------------------------------------------------------
    @reify
    def scheme(self) -> str:
        """``"http"`` or ``"https"``: the connection's, or the ASGI scope's; ``clone()`` sets it."""
        return self._head.scheme

    @property
    def secure(self) -> bool:
        """True when the scheme is ``https`` (or ``wss``)."""
        return self.scheme in ("https", "wss")

    @reify
    def host(self) -> str:
        """The host of an absolute-form request target, else the Host header, else this
        machine's fully qualified name (``clone(host=...)`` overrides them all)."""
        authority = self._target_authority()
        if authority is not None:
            return authority
        host = self._head.headers.get(hdrs.HOST)
        if host is not None:
            return host
        return socket.getfqdn()

    def _target_authority(self) -> str | None:
        authority = self._authority
        if authority is None:
            # A transport that keeps an absolute-form target's authority gives it here.
            authority = getattr(self._head, "authority", None)
        return authority

    @reify
    def forwarded(self) -> tuple[Mapping[str, str], ...]:
        """The ``Forwarded`` headers (RFC 7239), one read-only mapping per proxy element."""
        return parse_forwarded(self._head.headers.getall(hdrs.FORWARDED, ()))

    @reify
    def remote(self) -> str | None:
        """The peer's address: the IP of a TCP client, None when unknown."""
        peer = self._head.peername
        if isinstance(peer, (tuple, list)):
            return str(peer[0])
        return str(peer) if peer else None

    @property
    def transport(self) -> Any:
        """The connection's transport.

        On the native server, asyncio's. Under ASGI, which gives an application no socket,
        a stand-in (:class:`asgiweb.asgi.ASGITransport`) that answers ``get_extra_info``
        for ``peername`` and ``sockname`` and can ``abort()``; None once the client left.
        """
        transport = self._head.transport
        if transport is None:
            return getattr(self._sink, "transport", None)
        return transport

    @property
    def protocol(self) -> Any:
        """The connection's protocol object (aiohttp's request handler); it has ``transport``."""
        transport = self._head.transport
        if transport is None:
            return getattr(self._sink, "protocol", None)
        return transport.get_protocol()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport information such as ``peername`` or ``sockname``."""
        head = self._head
        if head.extra_info is not None:
            return head.extra_info(name, default)
        if name == "peername":
            return head.peername if head.peername is not None else default
        if name == "sockname":
            return head.sockname if head.sockname is not None else default
        return default

    # -- headers --------------------------------------------------------------------------
    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The request headers, as a read-only case-insensitive multidict."""
        return self._head.headers

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The request headers as ``(name, value)`` byte pairs, as received."""
        return self._head.raw_headers

    @reify
    def cookies(self) -> Mapping[str, str]:
        """Cookies sent by the client; a malformed pair is skipped, not the whole header."""
        # types.MappingProxyType, as aiohttp: printed (pformat, repr) the same way.
        return MappingProxyType(parse_cookie_header(self._head.headers.getall(hdrs.COOKIE, ())))

    @reify
    def _content_type_params(self) -> tuple[str, dict[str, str]]:
        return parse_content_type(self._head.headers.get(hdrs.CONTENT_TYPE))

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` without parameters; ``application/octet-stream`` if absent."""
        return self._content_type_params[0]

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of ``Content-Type``, or None."""
        return self._content_type_params[1].get("charset")

    @reify
    def content_length(self) -> int | None:
        """The ``Content-Length`` header as an int, or None."""
        value = self._head.first_value(b"content-length")
        return int(value) if value is not None else None

    @reify
    def if_modified_since(self) -> datetime.datetime | None:
        """The ``If-Modified-Since`` header as an aware datetime, or None."""
        return parse_http_date(self._head.headers.get(hdrs.IF_MODIFIED_SINCE))

    @reify
    def if_unmodified_since(self) -> datetime.datetime | None:
        """The ``If-Unmodified-Since`` header as an aware datetime, or None."""
        return parse_http_date(self._head.headers.get(hdrs.IF_UNMODIFIED_SINCE))

    @reify
    def if_range(self) -> datetime.datetime | None:
        """The ``If-Range`` header as an aware datetime, or None."""
        return parse_http_date(self._head.headers.get(hdrs.IF_RANGE))

    @reify
    def if_match(self) -> tuple[ETag, ...] | None:
        """The ``If-Match`` header's entity tags, or None when absent."""
        return parse_etag_list(self._head.headers.get(hdrs.IF_MATCH))

    @reify
    def if_none_match(self) -> tuple[ETag, ...] | None:
        """The ``If-None-Match`` header's entity tags, or None when absent."""
        return parse_etag_list(self._head.headers.get(hdrs.IF_NONE_MATCH))

    @reify
    def http_range(self) -> slice:
        """The ``Range`` header as a slice; ``slice(None, None)`` when absent."""
        return parse_range(self._head.headers.get(hdrs.RANGE))

    # -- body -------------------------------------------------------------------------
    @property
    def content(self) -> StreamReader:
        """The body as a :class:`StreamReader`."""
        return self._payload

    @property
    def body_exists(self) -> bool:
        """True when the request has a body, read or not."""
        return self._payload is not EMPTY_PAYLOAD

    @property
    def can_read_body(self) -> bool:
        """True while there is body left to read."""
        return not self._payload.at_eof()

    @property
    def has_body(self) -> bool:
        """Deprecated alias of :attr:`can_read_body`."""
        warnings.warn("Deprecated, use .can_read_body #2005", DeprecationWarning, stacklevel=2)
        return not self._payload.at_eof()

    async def read(self) -> bytes:
        """The whole body; 413 past ``client_max_size``."""
        if self._read_bytes is None:
            limit = self._client_max_size
            declared = self.content_length
            if limit and declared is not None and declared > limit:
                raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
            payload = self._payload
            if isinstance(payload, StreamReader):
                body = await payload.read_all(limit)
            else:  # a payload given to make_mocked_request(): anything with readany()
                body = await _read_pieces(payload, limit)
            if limit and len(body) > limit:
                raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
            self._read_bytes = body
        return self._read_bytes

    async def text(self) -> str:
        """The body decoded with its charset (UTF-8 by default)."""
        body = await self.read()
        return body.decode(self.charset or "utf-8")

    async def json(self, *, loads: Any = json.loads) -> Any:
        """The body parsed as JSON."""
        return loads(await self.text())

    async def post(self) -> MultiDictProxy[Any]:
        """Form fields from a urlencoded or multipart body; empty for other requests."""
        if self._post is not None:
            return self._post
        ctype = self.content_type
        if self.method not in _POST_METHODS or ctype not in _FORM_TYPES:
            self._post = MultiDictProxy(MultiDict())
            return self._post
        if ctype == "multipart/form-data":
            self._post = await self._read_multipart_form()
            return self._post
        charset = self.charset or "utf-8"
        data = (await self.read()).decode(charset)
        fields = parse_qsl(data, keep_blank_values=True, encoding=charset)
        self._post = MultiDictProxy(MultiDict(fields))
        return self._post

    async def _read_multipart_form(self) -> MultiDictProxy[Any]:
        content = None
        if self._read_bytes is not None:  # read() already drained the stream
            content = StreamReader()
            content.feed_data(self._read_bytes)
            content.feed_eof()
        try:
            form = await read_form(self, content=content)
        except MultipartError as exc:
            raise HTTPBadRequest(text=f"Malformed multipart body: {exc}") from exc
        self._form_files = tuple(v.file for v in form.values() if isinstance(v, FileField))
        return form

    def _close_form_files(self) -> None:
        """Close uploaded files once the response is sent, so none leak a descriptor."""
        files, self._form_files = self._form_files, ()
        for file in files:
            file.close()

    async def multipart(self) -> MultipartReader:
        """A :class:`~asgiweb.multipart.MultipartReader` over the body; reads are not kept."""
        return MultipartReader(self.headers, self._payload)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running event loop (deprecated in aiohttp 3.5)."""
        warnings.warn("request.loop property is deprecated", DeprecationWarning, stacklevel=2)
        return asyncio.get_running_loop()

    async def release(self) -> None:
        """Read and discard what is left of the body."""
        while await self._payload.readany():
            pass

    async def _prepare_hook(self, response: StreamResponse) -> None:
        return None

    def _sink_started(self) -> bool:
        return self._sink.started


def _cloned_head(old: RequestHead, method: str | None, rel_url: Any, headers: Any) -> RequestHead:
    """A copy of ``old`` with the method, target or headers that :meth:`BaseRequest.clone`
    replaces."""
    path, query_string = old.path, old.query_string
    if rel_url is not None:
        url = URL(rel_url)
        if url.absolute:
            raise ValueError("rel_url should be a relative URL")
        path, query_string = url.raw_path, url.raw_query_string
    new_headers = old.headers
    raw_headers = old._raw
    expect = old.expect
    if headers is not None:
        new_headers = CIMultiDictProxy(CIMultiDict(headers))
        raw_headers = tuple((k.encode("utf-8"), v.encode("utf-8")) for k, v in new_headers.items())
        expect = hdrs.EXPECT in new_headers
    return RequestHead(
        method if method is not None else old.method,
        path,
        query_string,
        old.version,
        new_headers,
        raw_headers,
        scheme=old.scheme,
        root_path=old.root_path,
        keep_alive=old.keep_alive,
        expect=expect,
        has_body=old.has_body,
        upgrade=old.upgrade,
        peername=old.peername,
        sockname=old.sockname,
        transport=old.transport,
        extra_info=old.extra_info,
    )


class Request(BaseRequest):
    """A request routed to an :class:`Application`: adds ``match_info`` and ``app``."""

    _match_info: UrlMappingMatchInfo | None = None

    def _clone_into(self, head: RequestHead, client_max_size: int | None) -> Request:
        new = Request(
            head,
            self._payload,
            self._sink,
            client_max_size=self._client_max_size if client_max_size is None else client_max_size,
            task=self._task,
            state=self._state.copy(),
        )
        new._match_info = self._match_info
        return new

    @property
    def match_info(self) -> UrlMappingMatchInfo:
        """What the router matched: the path's variable parts and the handler."""
        info = self._match_info
        assert info is not None, "match_info is set by the router"
        return info

    @property
    def app(self) -> Application:
        """The application (or sub-application) handling this request."""
        return self.match_info.current_app

    @reify
    def config_dict(self) -> ChainMapProxy:
        """This application's state, then its parents', as one read-only mapping."""
        apps = self.match_info.apps
        current = self.match_info.current_app
        chain = apps[: apps.index(current) + 1] if current in apps else apps
        return ChainMapProxy(reversed(chain))

    async def _prepare_hook(self, response: StreamResponse) -> None:
        info = self._match_info
        if info is None:
            return
        for app in info.apps:
            signal = app.on_response_prepare
            if signal:
                await signal.send(self, response)


async def _read_pieces(payload: Any, limit: int) -> bytes:
    """:meth:`StreamReader.read_all` for a payload of another kind (one with ``readany``)."""
    body = bytearray()
    while chunk := await payload.readany():
        body += chunk
        if limit and len(body) > limit:
            break
    return bytes(body)
