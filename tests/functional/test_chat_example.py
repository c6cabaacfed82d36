"""examples/chat.py with two clients, on every path."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
import websockets
from example_apps import load_example
from websockets.sync.client import connect


def load_chat() -> Any:
    return load_example("chat")


def url(server: Any, name: str) -> str:
    return server.url.replace("http://", "ws://", 1) + f"/ws?name={name}"


def test_two_clients_chat_and_leave(serve_app: Any) -> None:
    chat = load_chat()
    app = chat.make_app()
    with serve_app(app) as server:
        with connect(url(server, "ann")) as ann:
            with connect(url(server, "bob")) as bob:
                assert ann.recv(timeout=5) == "bob joined"
                ann.send("hi bob")
                assert ann.recv(timeout=5) == "ann: hi bob"
                assert bob.recv(timeout=5) == "ann: hi bob"
                bob.send("hi ann")
                assert ann.recv(timeout=5) == "bob: hi ann"
                assert bob.recv(timeout=5) == "bob: hi ann"
            assert ann.recv(timeout=5) == "bob left"
            deadline = time.monotonic() + 5
            while len(app[chat.room_key]) != 1:  # bob's socket is out of the room
                assert time.monotonic() < deadline
                time.sleep(0.01)
        deadline = time.monotonic() + 5
        while app[chat.room_key]:  # and ann's, once she has gone too
            assert time.monotonic() < deadline
            time.sleep(0.01)


def test_shutdown_closes_every_socket(serve_app: Any, path_kind: str) -> None:
    chat = load_chat()
    with contextlib.ExitStack() as clients:
        # hypercorn waits graceful_timeout for open connections before it cancels them.
        options = {"graceful_timeout": 0.2} if path_kind == "hypercorn" else {}
        app = chat.make_app()
        with serve_app(app, **options) as server:
            ann = clients.enter_context(connect(url(server, "ann")))
            bob = clients.enter_context(connect(url(server, "bob")))
            assert ann.recv(timeout=5) == "bob joined"
            # Whoever is announced is already in the room, so on_shutdown closes it: a
            # socket it missed would hold the shutdown for shutdown_timeout (60 s).
            assert len(app[chat.room_key]) == 2
        for client in (ann, bob):  # the server is gone now
            with pytest.raises(websockets.ConnectionClosed):
                # A "left" notice may come first: whoever is closed first leaves the room
                # while the other is still open.
                for _ in range(3):
                    assert client.recv(timeout=5).endswith(" left")
    codes = {(ann.close_code, ann.close_reason), (bob.close_code, bob.close_reason)}
    if path_kind == "native":
        assert codes == {(1001, "Server shutdown")}  # the app's on_shutdown
    elif path_kind == "uvicorn":
        assert codes == {(1012, "")}  # uvicorn closes them itself before lifespan shutdown
    else:
        # hypercorn cancels the handlers before lifespan shutdown, and says 1011.
        assert codes == {(1011, "")}
