"""HttpProtocol.send_file_now: one sendfile(2) straight on the connection's socket, over a
real asyncio transport on a socket pair."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from asgiweb import web
from native_server.protocol import HttpProtocol

pytestmark = pytest.mark.skipif(not hasattr(os, "sendfile"), reason="no os.sendfile here")


async def _never_called(request: web.BaseRequest) -> web.StreamResponse:
    raise AssertionError("no request is sent in these tests")


async def _connected() -> tuple[HttpProtocol, socket.socket]:
    ours, peer = socket.socketpair()
    loop = asyncio.get_running_loop()
    _, protocol = await loop.connect_accepted_socket(web.Server(_never_called), ours)
    assert isinstance(protocol, HttpProtocol)
    return protocol, peer


def _read_all(sock: socket.socket, size: int) -> bytes:
    sock.settimeout(5)
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk
        data += chunk
    return bytes(data)


@pytest.fixture
def blob(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(4 << 20)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    return path, data


def test_sends_from_the_offset_without_moving_the_file(blob: tuple[Path, bytes]) -> None:
    path, data = blob

    async def main() -> None:
        protocol, peer = await _connected()
        with open(path, "rb") as file, peer:
            assert protocol.send_file_now(file, 1000, 3000) == 3000
            assert file.tell() == 0
            assert _read_all(peer, 3000) == data[1000:4000]
            protocol.abort()

    asyncio.run(main())


def test_takes_what_fits_then_nothing_while_the_socket_is_full(blob: tuple[Path, bytes]) -> None:
    path, data = blob

    async def main() -> None:
        protocol, peer = await _connected()
        with open(path, "rb") as file, peer:
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sent = protocol.send_file_now(file, 0, len(data))
            assert 0 < sent < len(data)  # a socket pair buffers far less than 4 MiB
            assert protocol.send_file_now(file, sent, len(data) - sent) == 0  # full
            assert _read_all(peer, sent) == data[:sent]
            protocol.abort()

    asyncio.run(main())


def test_nothing_while_the_transport_holds_bytes(blob: tuple[Path, bytes]) -> None:
    """Bytes queued in the transport must reach the peer first: the file waits for them."""
    path, _ = blob

    async def main() -> None:
        protocol, peer = await _connected()
        with open(path, "rb") as file, peer:
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            protocol.write(b"x" * (4 << 20))  # more than the socket takes: the rest queues
            assert protocol.transport is not None
            assert protocol.transport.get_write_buffer_size() > 0
            assert protocol.send_file_now(file, 0, 100) == 0
            protocol.abort()

    asyncio.run(main())


def test_a_peer_gone_is_a_lost_connection(blob: tuple[Path, bytes]) -> None:
    path, _ = blob

    async def main() -> None:
        protocol, peer = await _connected()
        peer.close()
        with open(path, "rb") as file:
            with pytest.raises(ConnectionResetError):
                protocol.send_file_now(file, 0, 100)
        protocol.abort()

    asyncio.run(main())


def test_a_file_sendfile_refuses_is_left_to_the_usual_way() -> None:
    """sendfile(2) takes no pipe as its source (EINVAL): nothing sent, no error."""

    async def main() -> None:
        protocol, peer = await _connected()
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, b"abc")
            with open(read_end, "rb", closefd=False) as pipe, peer:
                assert protocol.send_file_now(pipe, 0, 3) == 0
        finally:
            os.close(read_end)
            os.close(write_end)
        protocol.abort()

    asyncio.run(main())


def test_nothing_once_the_connection_is_lost(blob: tuple[Path, bytes]) -> None:
    path, _ = blob

    async def main() -> Any:
        protocol, peer = await _connected()
        protocol.abort()
        await asyncio.sleep(0)  # connection_lost runs
        with open(path, "rb") as file, peer:
            assert protocol.transport is None
            assert protocol.send_file_now(file, 0, 100) == 0

    asyncio.run(main())


# -- the response head in front of the file -------------------------------------------------


async def _connected_tcp() -> tuple[HttpProtocol, socket.socket]:
    """A protocol on one end of a loopback TCP connection (MSG_MORE and TCP_NODELAY mean
    something there, not on a socket pair)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        peer = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    loop = asyncio.get_running_loop()
    _, protocol = await loop.connect_accepted_socket(web.Server(_never_called), ours)
    assert isinstance(protocol, HttpProtocol)
    return protocol, peer


HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n"


@pytest.mark.parametrize("connect", [_connected, _connected_tcp], ids=["pair", "tcp"])
def test_the_head_goes_first_and_only_file_bytes_are_counted(
    blob: tuple[Path, bytes], connect: Any
) -> None:
    path, data = blob

    async def main() -> None:
        protocol, peer = await connect()
        with open(path, "rb") as file, peer:
            assert protocol.send_file_now(file, 1000, 3000, HEAD) == 3000
            assert _read_all(peer, len(HEAD) + 3000) == HEAD + data[1000:4000]
            # The socket made for the head was detached, not closed: the connection lives.
            protocol.write(b"after")
            assert _read_all(peer, 5) == b"after"
            protocol.abort()

    asyncio.run(main())


def test_the_head_waits_behind_bytes_the_transport_holds(blob: tuple[Path, bytes]) -> None:
    path, _ = blob

    async def main() -> None:
        protocol, peer = await _connected()
        with open(path, "rb") as file, peer:
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            queued = b"x" * (4 << 20)
            protocol.write(queued)  # more than the socket takes: the rest queues
            assert protocol.send_file_now(file, 0, 100, HEAD) == 0
            peer.settimeout(5)
            received = bytearray()
            loop = asyncio.get_running_loop()
            while len(received) < len(queued) + len(HEAD):
                # Read off the loop's thread, so the transport can go on writing.
                chunk = await loop.run_in_executor(None, peer.recv, 1 << 20)
                assert chunk
                received += chunk
            assert bytes(received) == queued + HEAD  # in order, the file not sent
            protocol.abort()

    asyncio.run(main())


def test_a_head_with_nothing_after_it_is_not_held_back(
    blob: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sendfile(2) refused after the head went out with MSG_MORE: the head is pushed at
    once, not left for the kernel's cork timer (200 ms) or the caller's next write."""
    path, _ = blob
    import native_server.protocol as protocol_module

    def refuse(*args: Any) -> int:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(protocol_module, "_sendfile", refuse)

    async def main() -> None:
        protocol, peer = await _connected_tcp()
        with open(path, "rb") as file, peer:
            started = asyncio.get_running_loop().time()
            assert protocol.send_file_now(file, 0, 100, HEAD) == 0
            peer.settimeout(5)
            assert _read_all(peer, len(HEAD)) == HEAD
            assert asyncio.get_running_loop().time() - started < 0.1
            protocol.abort()

    asyncio.run(main())


def test_without_sendfile_the_head_goes_through_the_transport(
    blob: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = blob
    import native_server.protocol as protocol_module

    monkeypatch.setattr(protocol_module, "_sendfile", None)

    async def main() -> None:
        protocol, peer = await _connected_tcp()
        with open(path, "rb") as file, peer:
            assert protocol.send_file_now(file, 0, 100, HEAD) == 0
            assert _read_all(peer, len(HEAD)) == HEAD
            protocol.abort()

    asyncio.run(main())


def test_a_closing_transport_takes_no_head(blob: tuple[Path, bytes]) -> None:
    """As any write to a connection being closed: refused, and nothing reaches the peer."""
    path, _ = blob

    async def main() -> None:
        protocol, peer = await _connected_tcp()
        with open(path, "rb") as file, peer:
            assert protocol.transport is not None
            protocol.transport.close()
            with pytest.raises(ConnectionResetError):
                protocol.send_file_now(file, 0, 100, HEAD)
            await asyncio.sleep(0.01)  # the transport closes the socket on the next turns
            peer.settimeout(5)
            assert peer.recv(100) == b""  # the close, and nothing before it

    asyncio.run(main())


def test_without_msg_more_the_head_goes_through_the_transport_then_the_file(
    blob: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A platform without MSG_MORE still sends the file straight away after the head."""
    path, data = blob
    import native_server.protocol as protocol_module

    monkeypatch.setattr(protocol_module, "_MSG_MORE", 0)

    async def main() -> None:
        protocol, peer = await _connected_tcp()
        with open(path, "rb") as file, peer:
            assert protocol.send_file_now(file, 0, 3000, HEAD) == 3000
            assert _read_all(peer, len(HEAD) + 3000) == HEAD + data[:3000]
            protocol.abort()

    asyncio.run(main())


class _Wrapper:
    """asyncio's TransportSocket as _send_more sees it: the socket it wraps, and
    attributes that would only be read to make a socket object of its own."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} read: a socket was made for the one send")


class _Opaque:
    """A loop's stand-in with no socket to reach (uvloop's, say): only the descriptor."""

    def __init__(self, sock: socket.socket) -> None:
        self.family, self.type, self.proto = sock.family, sock.type, sock.proto
        self.fileno = sock.fileno


@pytest.mark.skipif(not hasattr(socket, "MSG_MORE"), reason="no MSG_MORE here")
def test_the_head_goes_out_on_the_transports_own_socket_or_one_made_for_it() -> None:
    from native_server.protocol import _push, _send_more

    with socket.create_server(("127.0.0.1", 0)) as listener:
        ours = socket.create_connection(listener.getsockname())
        peer, _ = listener.accept()
    with ours, peer:
        ours.setblocking(False)
        assert _send_more(_Wrapper(ours), b"head") == 4
        assert _send_more(_Opaque(ours), b" more") == 5
        _push(ours)  # what MSG_MORE held back
        assert _read_all(peer, 9) == b"head more"
        # Neither call closed the descriptor it used.
        ours.send(b"!")
        assert _read_all(peer, 1) == b"!"
        peer.close()
        ours.setblocking(True)
        ours.settimeout(5)
        ours.recv(1)  # the peer's close has arrived
        with pytest.raises(OSError):
            for _ in range(100):  # a reset may take a send or two to be seen
                ours.send(b"x")
        ours.setblocking(False)
        assert _send_more(_Wrapper(ours), b"gone") == 0  # a lost peer: the caller's write finds out
        assert _send_more(_Opaque(ours), b"gone") == 0
