"""The aiohttp.web-compatible facade: ``from asgiweb import web``."""

from __future__ import annotations

from native_server import (
    AppRunner,
    BaseRunner,
    BaseSite,
    GracefulExit,
    NamedPipeSite,
    Server,
    ServerRunner,
    SockSite,
    TCPSite,
    UnixSite,
    run_app,
)
from native_server.cli import main

from .abc import AbstractAccessLogger
from .accesslog import AccessLogger
from .app import AppKey, Application, CleanupError, NotAppKeyWarning, RequestKey, ResponseKey
from .exceptions import *  # noqa: F403
from .exceptions import __all__ as _exceptions_all
from .fileresponse import FileResponse
from .forms import FileField
from .handling import RequestPayloadError
from .helpers import ChainMapProxy, HttpVersion, HttpVersion10, HttpVersion11
from .middlewares import middleware, normalize_path_middleware
from .request import BaseRequest, ETag, Request
from .response import (
    ContentCoding,
    Response,
    StreamResponse,
    json_bytes_response,
    json_response,
)
from .routing import (
    AbstractResource,
    AbstractRoute,
    AbstractRouteDef,
    DynamicResource,
    MatchedSubAppResource,
    PlainResource,
    PrefixedSubAppResource,
    PrefixResource,
    Resource,
    ResourceRoute,
    RouteDef,
    RouteTableDef,
    StaticDef,
    StaticResource,
    SystemRoute,
    UrlDispatcher,
    UrlMappingMatchInfo,
    View,
    delete,
    get,
    head,
    options,
    patch,
    post,
    put,
    route,
    static,
    view,
)
from .streams import StreamReader
from .websocket import WebSocketReady, WebSocketResponse
from .ws_types import WSCloseCode, WSMessage, WSMsgType

__all__ = [
    "AbstractAccessLogger",
    "AbstractResource",
    "AbstractRoute",
    "AbstractRouteDef",
    "AccessLogger",
    "AppKey",
    "AppRunner",
    "Application",
    "BaseRequest",
    "BaseRunner",
    "BaseSite",
    "ChainMapProxy",
    "CleanupError",
    "ContentCoding",
    "DynamicResource",
    "ETag",
    "FileField",
    "FileResponse",
    "GracefulExit",
    "HttpVersion",
    "HttpVersion10",
    "HttpVersion11",
    "NamedPipeSite",
    "NotAppKeyWarning",
    "MatchedSubAppResource",
    "PlainResource",
    "PrefixedSubAppResource",
    "PrefixResource",
    "Request",
    "RequestKey",
    "RequestPayloadError",
    "Resource",
    "ResourceRoute",
    "Response",
    "ResponseKey",
    "RouteDef",
    "RouteTableDef",
    "Server",
    "ServerRunner",
    "SockSite",
    "StaticDef",
    "StaticResource",
    "StreamReader",
    "StreamResponse",
    "SystemRoute",
    "TCPSite",
    "UnixSite",
    "UrlDispatcher",
    "UrlMappingMatchInfo",
    "View",
    "WSCloseCode",
    "WSMessage",
    "WSMsgType",
    "WebSocketReady",
    "WebSocketResponse",
    "delete",
    "get",
    "head",
    "json_bytes_response",
    "json_response",
    "middleware",
    "normalize_path_middleware",
    "main",
    "options",
    "patch",
    "post",
    "put",
    "route",
    "run_app",
    "static",
    "view",
    *_exceptions_all,
]

if __name__ == "__main__":  # python -m asgiweb.web ...
    main()
