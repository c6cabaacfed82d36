"""Server-sent events with a plain ``StreamResponse``: every message posted to
``/publish`` is pushed at once to every browser listening on ``/events``.

Serve it natively with ``python examples/sse.py`` (port 8080, or ``PORT``), or with an
ASGI server: ``uvicorn examples.sse:app``; open http://127.0.0.1:8080/ in a browser (or
``curl -N localhost:8080/events``), then ``curl -d 'hello' localhost:8080/publish``.

A listener that goes away is noticed at the next write, a keep-alive comment at the
latest, and is dropped from the broker. At shutdown the native server runs
``on_shutdown`` before it waits for in-flight handlers, so the streams end there; uvicorn
waits for open connections first: give it ``--timeout-graceful-shutdown 5``.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field

from asgiweb import web

KEEPALIVE = 15.0  # seconds: below the idle timeout of most proxies


@dataclass
class Broker:
    """One queue per listener; an event goes to all of them."""

    keepalive: float = KEEPALIVE
    listeners: set[asyncio.Queue[bytes | None]] = field(default_factory=set)
    last_id: int = 0

    def publish(self, data: str, event: str = "message") -> int:
        self.last_id += 1
        # A line break would end the field: each line of data is a "data:" line of its own.
        lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
        frame = f"id: {self.last_id}\nevent: {event}\n{lines}\n".encode()
        for queue in self.listeners:
            queue.put_nowait(frame)
        return len(self.listeners)

    def close(self) -> None:
        """End every stream."""
        for queue in self.listeners:
            queue.put_nowait(None)


broker_key = web.AppKey("broker", Broker)

PAGE = """<!doctype html>
<title>events</title>
<ul id="log"></ul>
<script>
  const source = new EventSource("/events");
  source.onmessage = (event) => document.getElementById("log").append(
    Object.assign(document.createElement("li"), {textContent: event.data}));
</script>
"""


async def index(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def events(request: web.Request) -> web.StreamResponse:
    broker = request.app[broker_key]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    broker.listeners.add(queue)
    try:
        await response.write(b": connected\n\n")  # the head and a first byte, now
        while True:
            try:
                frame = await asyncio.wait_for(queue.get(), broker.keepalive)
            except TimeoutError:
                frame = b": keep-alive\n\n"  # a comment: EventSource ignores it
            if frame is None:  # the server is shutting down
                break
            await response.write(frame)
    except ConnectionResetError:
        pass  # the listener went away
    finally:
        broker.listeners.discard(queue)
    return response


async def publish(request: web.Request) -> web.Response:
    listeners = request.app[broker_key].publish(await request.text())
    return web.json_response({"listeners": listeners})


async def end_streams(app: web.Application) -> None:
    app[broker_key].close()


def make_app(keepalive: float = KEEPALIVE) -> web.Application:
    app = web.Application()
    app[broker_key] = Broker(keepalive)
    app.on_shutdown.append(end_streams)
    app.router.add_get("/", index)
    app.router.add_get("/events", events)
    app.router.add_post("/publish", publish)
    return app


app = make_app()

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
