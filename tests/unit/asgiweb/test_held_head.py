"""The held-head rule, once for the three response sinks (transport.HeldHeadSink): the
head goes out with the first body bytes or at flush(), whichever comes first, and once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from multidict import CIMultiDict

from asgiweb.asgi.sink import ASGISink
from asgiweb.asgi.websocket import ASGIWebSocketSink
from asgiweb.transport import HeldHeadSink
from native_server.sink import NativeSink


class FakeProtocol:
    """What NativeSink uses of HttpProtocol; records every write."""

    _write_paused = False
    transport = None

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def headers() -> CIMultiDict[str]:
    return CIMultiDict({"Content-Type": "text/plain"})


# Each case: a fresh sink and a function listing what it has sent so far, where a head
# is "HEAD" and body bytes are themselves.
def native() -> tuple[HeldHeadSink[Any], Callable[[], list[object]]]:
    protocol = FakeProtocol()
    sink = NativeSink(protocol, (1, 1))  # type: ignore[arg-type]

    def sent() -> list[object]:
        out: list[object] = []
        for data in protocol.writes:
            if data.startswith(b"HTTP/1.1 200 OK\r\n"):
                out.append("HEAD")
                data = data[data.index(b"\r\n\r\n") + 4 :]
            if data:
                out.append(data)
        return out

    return sink, sent


def asgi_messages(sink_type: type[HeldHeadSink[Any]], **kwargs: Any) -> Any:
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    def sent() -> list[object]:
        out: list[object] = []
        for message in messages:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                out.append("HEAD")
            elif message.get("more_body", False) or message.get("body"):
                out.append(message["body"])
        return out

    return sink_type(send=send, **kwargs), sent


def asgi() -> tuple[HeldHeadSink[Any], Callable[[], list[object]]]:
    return asgi_messages(ASGISink)  # type: ignore[no-any-return]


def asgi_websocket() -> tuple[HeldHeadSink[Any], Callable[[], list[object]]]:
    scope = {"extensions": {"websocket.http.response": {}}}
    return asgi_messages(ASGIWebSocketSink, scope=scope, receive=None)  # type: ignore[no-any-return]


SINKS = pytest.mark.parametrize("make", [native, asgi, asgi_websocket])


def start(sink: Any) -> None:
    sink.start(200, "OK", headers(), False, True, True, False)


@SINKS
def test_start_holds_the_head_and_the_first_write_sends_it_once(make: Any) -> None:
    sink, sent = make()

    async def main() -> None:
        start(sink)
        assert sink.started and sink.head_held and sent() == []
        await sink.write(b"one")
        assert not sink.head_held and sent() == ["HEAD", b"one"]
        await sink.write(b"two")
        await sink.flush()  # nothing left to flush
        assert sent() == ["HEAD", b"one", b"two"]

    run(main())


@SINKS
def test_flush_sends_the_head_alone_and_only_once(make: Any) -> None:
    sink, sent = make()

    async def main() -> None:
        start(sink)
        await sink.flush()
        assert not sink.head_held and sent() == ["HEAD"]
        await sink.flush()
        await sink.write(b"body")
        assert sent() == ["HEAD", b"body"]

    run(main())


@SINKS
def test_write_eof_alone_sends_the_head_once(make: Any) -> None:
    sink, sent = make()

    async def main() -> None:
        start(sink)
        await sink.write_eof(b"all")
        assert sent() == ["HEAD", b"all"]

    run(main())


@SINKS
def test_flush_before_start_sends_nothing(make: Any) -> None:
    sink, sent = make()

    async def main() -> None:
        await sink.flush()
        assert not sink.started and not sink.head_held and sent() == []

    run(main())


def test_a_websocket_accept_is_held_until_flushed() -> None:
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    async def main() -> None:
        sink = ASGIWebSocketSink({}, None, send)  # type: ignore[arg-type]
        sink.start(101, "Switching Protocols", CIMultiDict(), False, True, False, False)
        assert messages == [] and sink.head_held
        await sink.flush()
        await sink.flush()
        assert [m["type"] for m in messages] == ["websocket.accept"]

    run(main())


def test_native_sendfile_sends_the_held_head_first_and_once() -> None:
    sink, sent = native()

    async def main() -> None:
        start(sink)
        await sink.sendfile(None, 0, 0, 1024)  # type: ignore[attr-defined, arg-type]
        await sink.write(b"x")
        assert sent() == ["HEAD", b"x"]

    run(main())
