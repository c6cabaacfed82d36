"""An app behind a reverse proxy (nginx) on a Unix socket: docs/nginx.md.

Serve it natively with ``python examples/behind_proxy.py /run/asgiweb/app.sock``, or under
uvicorn::

    uvicorn --uds /run/asgiweb/app.sock --no-proxy-headers --factory examples.behind_proxy:make_app

The proxy knows what the app cannot see through the socket: the client's address, the
scheme it used (TLS ends at nginx) and the Host it asked for. It says so in
``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Forwarded-Host``; :func:`x_forwarded`
believes those headers from a trusted proxy only, as aiohttp leaves it to a middleware.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from ipaddress import ip_address, ip_network

from asgiweb import web
from asgiweb.typedefs import Handler

Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


def x_forwarded(trusted: Iterable[str] = ()) -> Middleware:
    """A middleware applying ``X-Forwarded-*`` with ``request.clone()``, from trusted peers only.

    A peer without an IP address (a Unix socket, where the file's permissions decide who may
    connect) is trusted; so is a TCP peer in ``trusted`` (addresses or networks of your
    proxies). From anyone else the headers are ignored: any client can send them.
    """
    networks = [ip_network(net) for net in trusted]

    def is_trusted(address: str) -> bool:
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in networks)

    def client_address(request: web.Request) -> str | None:
        # Each proxy appends the address that connected to it. Read from the right, the first
        # address that is not one of our proxies is the client as our outermost proxy saw it;
        # anything left of it the client may have written itself.
        chain = ",".join(request.headers.getall("X-Forwarded-For", ())).split(",")
        hops = [hop.strip() for hop in chain if hop.strip()]
        for hop in reversed(hops):
            if not is_trusted(hop):
                try:
                    return str(ip_address(hop))
                except ValueError:
                    raise web.HTTPBadRequest(reason="Invalid X-Forwarded-For") from None
        return hops[0] if hops else None  # a request from one of our proxies itself

    def last(request: web.Request, name: str) -> str | None:
        # The right-most value is the one our proxy set (nginx replaces the client's).
        values = ",".join(request.headers.getall(name, ())).split(",")
        return values[-1].strip() or None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.remote
        if peer is not None and not is_trusted(peer):
            return await handler(request)
        scheme = last(request, "X-Forwarded-Proto")
        if scheme not in (None, "http", "https"):
            raise web.HTTPBadRequest(reason="Invalid X-Forwarded-Proto")
        request = request.clone(
            scheme=scheme,
            host=last(request, "X-Forwarded-Host"),
            remote=client_address(request),
        )
        return await handler(request)

    return middleware


routes = web.RouteTableDef()


@routes.get("/", name="whoami")
async def whoami(request: web.Request) -> web.Response:
    """What the app believes about this request, after the middleware."""
    return web.json_response(
        {
            "scheme": request.scheme,
            "host": request.host,
            "remote": request.remote,
            "url": str(request.url),
            "url_for": str(request.url.join(request.app.router["whoami"].url_for())),
            "forwarded": [dict(element) for element in request.forwarded],
        }
    )


@routes.post("/upload")
async def upload(request: web.Request) -> web.Response:
    """Stream a body of any size (nginx's client_max_body_size bounds it) into a digest."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        digest.update(chunk)
        size += len(chunk)
    return web.json_response({"size": size, "sha256": digest.hexdigest()})


@routes.get("/ticks")
async def ticks(request: web.Request) -> web.StreamResponse:
    """A slow stream; ``X-Accel-Buffering: no`` has nginx pass each line on as it comes."""
    response = web.StreamResponse(headers={"X-Accel-Buffering": "no"})
    response.content_type = "text/plain"
    await response.prepare(request)
    for tick in range(5):
        await response.write(f"tick {tick}\n".encode())
        await asyncio.sleep(0.1)
    await response.write_eof()
    return response


@routes.get("/ws")
async def echo(request: web.Request) -> web.WebSocketResponse[bool]:
    """Echo each message; the heartbeat keeps an idle socket inside proxy_read_timeout."""
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    async for message in ws:
        if message.type == web.WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == web.WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


def make_app(trusted: Iterable[str] = ()) -> web.Application:
    """The app, trusting ``X-Forwarded-*`` from Unix-socket peers and from ``trusted``."""
    app = web.Application(middlewares=[x_forwarded(trusted)])
    app.add_routes(routes)
    return app


app = make_app()

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    web.run_app(app, path=sys.argv[1] if len(sys.argv) > 1 else "/run/asgiweb/app.sock")
