"""Memory per idle keep-alive connection: what a server holds for a client between requests.

Each of ``connections`` sockets sends one ``GET /plaintext``, reads the whole response and
stays open. The figure is the server's resident memory (VmRSS over its process tree) with
them open, less before, divided by their number. A warm-up of the same kind first lets the
allocator's pools and the server's caches settle, so they are not counted as per-connection.
Kernel socket buffers are not in a process's RSS, so they are not counted for anyone.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import time

from .contenders import HOST, RunningServer

__all__ = ["DEFAULT_CONNECTIONS", "idle_kib_per_connection", "usable_connections"]

DEFAULT_CONNECTIONS = 1000
_WARMUP = 200
_SETTLE_S = 0.5
_REQUEST = f"GET /plaintext HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()


def usable_connections(wanted: int) -> int:
    """``wanted``, or fewer if this process may not open that many sockets (the soft
    descriptor limit is raised to the hard one first)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return max(0, min(wanted, soft - 64))  # room for the driver's own files


def _answered(sock: socket.socket) -> None:
    """Read one whole response (a head with Content-Length, a short body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed a keep-alive connection")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed a connection mid-response")
        body += chunk


def _open(server: RunningServer, count: int) -> list[socket.socket]:
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection((HOST, server.port), timeout=10)
            socks.append(sock)
            sock.sendall(_REQUEST)
            _answered(sock)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def idle_kib_per_connection(server: RunningServer, connections: int) -> float:
    """KiB of the server's RSS per idle keep-alive connection (see the module's doc)."""
    for sock in _open(server, _WARMUP):
        sock.close()
    time.sleep(_SETTLE_S)
    before = server.rss_kib()
    socks = _open(server, connections)
    try:
        time.sleep(_SETTLE_S)
        after = server.rss_kib()
    finally:
        for sock in socks:
            sock.close()
    return (after - before) / connections
