"""The native server reads every connection into one shared buffer: nothing may keep a
view of it past the read. Each test scribbles over the buffer after every read, so a
kept view would show up as garbage in a request, a body or a WebSocket message."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

from asgiweb import web

KEY = base64.b64encode(os.urandom(16))


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closing = False

    def write(self, data: Any) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def _app() -> web.Application:
    app = web.Application()

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        tag = request.headers.get("X-Tag")
        return web.Response(text=f"{request.method} {request.path_qs} {tag} {body!r}")

    async def ws_echo(request: web.Request) -> web.WebSocketResponse:
        await asyncio.sleep(0.01)  # the first frame arrives before the handler upgrades
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str("echo " + msg.data)
        return ws

    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/ws", ws_echo)
    return app


async def _serve(chunks: list[bytes], wait_for: bytes) -> bytes:
    runner = web.AppRunner(_app(), access_log=None)
    await runner.setup()
    try:
        protocol: Any = runner.server()
        transport = FakeTransport()
        protocol.connection_made(transport)
        for chunk in chunks:
            buffer = protocol.get_buffer(-1)
            buffer[: len(chunk)] = chunk
            protocol.buffer_updated(len(chunk))
            buffer[:] = b"X" * len(buffer)  # the next read of any connection lands here
            for _ in range(5):
                await asyncio.sleep(0)
        for _ in range(200):
            if wait_for in transport.out:
                break
            await asyncio.sleep(0.005)
        protocol.connection_lost(None)
        return bytes(transport.out)
    finally:
        await runner.cleanup()


def test_requests_split_anywhere_survive_the_buffer_being_reused() -> None:
    wire = (
        b"GET /echo?a=1 HTTP/1.1\r\nHost: x\r\nX-Tag: first\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: x\r\nX-Tag: second\r\nContent-Length: 11\r\n\r\nhello world"
    )
    for size in (1, 3, 7, 16, len(wire)):
        chunks = [wire[i : i + size] for i in range(0, len(wire), size)]
        out = asyncio.run(_serve(chunks, b"second b'hello world'"))
        assert b"GET /echo?a=1 first b''" in out, size
        assert b"POST /echo second b'hello world'" in out, size
        assert b"X" * 8 not in out


def _frame(text: bytes) -> bytes:
    mask = b"\x0f\x1e\x2d\x3c"
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(text))
    return bytes((0x81, 0x80 | len(text))) + mask + masked


def test_websocket_frames_that_came_with_the_handshake_survive_the_buffer_being_reused() -> None:
    handshake = (
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    chunks = [handshake + _frame(b"one"), _frame(b"two")[:3], _frame(b"two")[3:]]
    out = asyncio.run(_serve(chunks, b"echo two"))
    assert out.startswith(b"HTTP/1.1 101")
    assert b"\x81\x08echo one" in out
    assert b"\x81\x08echo two" in out


def test_a_message_handed_to_a_reader_cancelled_before_it_ran_is_not_lost() -> None:
    from native_server.websocket import NativeWebSocket

    class Protocol:
        _transport = FakeTransport()

        def __init__(self) -> None:
            self._loop = asyncio.get_running_loop()

        def pause_reading(self) -> None:
            pass

        def resume_reading(self) -> None:
            pass

    async def main() -> None:
        channel = NativeWebSocket(
            Protocol(),  # type: ignore[arg-type]
            deflate=None,
            max_msg_size=0,
            writer_limit=65536,
            read_limit=65536,
        )
        reader = asyncio.ensure_future(channel.receive())
        await asyncio.sleep(0)  # the reader now waits for a message
        channel.data_received(_frame(b"one"))  # handed straight to it...
        reader.cancel()  # ...and its task cancelled before it ran again (a timeout)
        try:
            await reader
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the reader was not cancelled")
        channel.data_received(_frame(b"two"))
        assert (await channel.receive()).data == "one"
        assert (await channel.receive()).data == "two"

    asyncio.run(main())
