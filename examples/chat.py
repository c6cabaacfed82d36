"""A one-room broadcast chat over WebSockets.

Serve it natively with ``python examples/chat.py``, or with an ASGI server:
``uvicorn examples.chat:app`` / ``hypercorn examples.chat:app``; then open
http://127.0.0.1:8080/ (8000 under uvicorn and hypercorn) in two browser tabs.

Every text message goes to everyone in the room. A client that leaves is removed from
the room; on shutdown every socket still open is closed with 1001 Going Away. (uvicorn
and hypercorn close WebSockets themselves before the application's shutdown runs:
see docs/differences.md.)
"""

from __future__ import annotations

import asyncio

from asgiweb import web

room_key = web.AppKey("room", set[web.WebSocketResponse])

PAGE = """<!doctype html>
<title>chat</title>
<ul id="log"></ul>
<form id="form"><input id="text" autocomplete="off" autofocus><button>Send</button></form>
<script>
  const ws = new WebSocket(location.href.replace(/^http/, "ws") + "ws");
  const log = (text) => document.getElementById("log").append(
    Object.assign(document.createElement("li"), {textContent: text}));
  ws.onmessage = (event) => log(event.data);
  ws.onclose = (event) => log(`closed (${event.code} ${event.reason})`);
  document.getElementById("form").onsubmit = (event) => {
    event.preventDefault();
    const input = document.getElementById("text");
    ws.send(input.value);
    input.value = "";
  };
</script>
"""


async def index(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def broadcast(room: set[web.WebSocketResponse], text: str) -> None:
    """Send ``text`` to everyone in the room; a socket closing meanwhile is skipped."""
    results = await asyncio.gather(*(ws.send_str(text) for ws in room), return_exceptions=True)
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, ConnectionError):
            raise result


async def chat(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    room = request.app[room_key]
    name = request.query.get("name") or f"guest{id(ws) % 1000}"
    # In the room before anyone hears of it: a shutdown that starts after the notice
    # must find this socket to close it.
    others = set(room)
    room.add(ws)
    try:
        await broadcast(others, f"{name} joined")
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                await broadcast(room, f"{name}: {msg.data}")
    finally:
        room.discard(ws)  # however the socket ended
    await broadcast(room, f"{name} left")
    return ws


async def close_all(app: web.Application) -> None:
    for ws in set(app[room_key]):
        await ws.close(code=web.WSCloseCode.GOING_AWAY, message=b"Server shutdown")


def make_app() -> web.Application:
    app = web.Application()
    app[room_key] = set()
    app.router.add_get("/", index)
    app.router.add_get("/ws", chat)
    app.on_shutdown.append(close_all)
    return app


app = make_app()

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=8080)
