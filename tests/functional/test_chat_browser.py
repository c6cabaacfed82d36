"""examples/chat.py's page in a real browser: two headless Chromium pages chat through the
page's own form and script, on the native server and under uvicorn.

Chromium is driven over the DevTools protocol with the ``websockets`` sync client (no
browser-automation dependency); what each page shows is read back from its DOM.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from example_apps import load_example
from servers import serve
from websockets.sync.client import ClientConnection, connect

TIMEOUT = 5.0  # seconds for any one thing the browser is asked to do or show


def load_chat() -> Any:
    return load_example("chat")


class DevTools:
    """One DevTools protocol connection to the browser; commands wait for their answer."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.ids = itertools.count(1)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        command: dict[str, Any] = {"id": next(self.ids), "method": method, "params": params}
        if session is not None:
            command["sessionId"] = session
        self.connection.send(json.dumps(command))
        deadline = time.monotonic() + 2 * TIMEOUT  # longer than a wait_until() in the page
        while True:
            # Events (no "id") come in between; nothing here needs them.
            message = json.loads(self.connection.recv(timeout=deadline - time.monotonic()))
            if message.get("id") == command["id"]:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result


class Page:
    """A browser tab, attached to the DevTools connection."""

    def __init__(self, devtools: DevTools, url: str) -> None:
        self.devtools = devtools
        self.target = devtools.call("Target.createTarget", url="about:blank")["targetId"]
        attached = devtools.call("Target.attachToTarget", targetId=self.target, flatten=True)
        self.session = attached["sessionId"]
        self.call("Page.navigate", url=url)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self.devtools.call(method, self.session, **params)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        reply = self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_until(self, condition: str) -> None:
        """Wait, in the page, until the JavaScript ``condition`` holds."""
        self.evaluate(
            "new Promise((resolve, reject) => {"
            f"  const deadline = Date.now() + {TIMEOUT * 1000};"
            "  (function poll() {"
            f"    let held = false; try {{ held = Boolean({condition}); }} catch (e) {{}}"
            "    if (held) resolve(true);"
            f"    else if (Date.now() > deadline) reject(new Error({json.dumps(condition)}));"
            "    else setTimeout(poll, 10);"
            "  })();"
            "})"
        )

    def log(self) -> list[str]:
        """The chat log as the page shows it."""
        lines: list[str] = self.evaluate(
            "[...document.querySelectorAll('#log li')].map((li) => li.textContent)"
        )
        return lines

    def wait_for_line(self, text: str) -> None:
        self.wait_until(
            "[...document.querySelectorAll('#log li')]"
            f".some((li) => li.textContent === {json.dumps(text)})"
        )

    def type_and_send(self, text: str) -> None:
        """Type into the input as a user would, then press the Send button."""
        self.evaluate("document.getElementById('text').focus()")
        self.call("Input.insertText", text=text)
        self.evaluate("document.querySelector('#form button').click()")

    def close(self) -> None:
        self.devtools.call("Target.closeTarget", targetId=self.target)


@pytest.fixture(scope="module")
def devtools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    """Headless Chromium for the module, killed at the end whatever happened."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip(
            "headless Chromium not found: apt-get install chromium (Debian) to run the browser test"
        )
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",  # as root, in a container
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-proxy-server",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its helper processes too are in this group: killed together
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 10
        while not (port_file.exists() and len(port_file.read_text().splitlines()) == 2):
            if process.poll() is not None:
                raise RuntimeError(f"chromium exited with code {process.returncode}")
            assert time.monotonic() < deadline, "chromium wrote no DevToolsActivePort"
            time.sleep(0.02)
        port, path = port_file.read_text().splitlines()
        with connect(f"ws://127.0.0.1:{port}{path}", max_size=None) as connection:
            yield DevTools(connection)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@pytest.mark.parametrize("kind", ["native", "uvicorn"])
def test_two_pages_chat(devtools: DevTools, kind: str) -> None:
    chat = load_chat()
    app = chat.make_app()
    with serve(app, kind) as server:
        ann = Page(devtools, server.url + "/")
        bob: Page | None = None
        try:
            ann.wait_until("ws.readyState === WebSocket.OPEN")
            bob = Page(devtools, server.url + "/")
            bob.wait_until("ws.readyState === WebSocket.OPEN")
            # Ann's page is told of Bob's arrival; the page's script named him.
            ann.wait_until("document.querySelectorAll('#log li').length === 1")
            joined = re.fullmatch(r"(guest\d+) joined", ann.log()[0])
            assert joined is not None, ann.log()
            bob_name = joined.group(1)

            bob.type_and_send("hello from bob")
            ann.wait_for_line(f"{bob_name}: hello from bob")
            bob.wait_for_line(f"{bob_name}: hello from bob")
            assert bob.evaluate("document.getElementById('text').value") == ""  # form reset

            ann.type_and_send("hi bob")
            bob.wait_until("document.querySelectorAll('#log li').length === 2")
            ann_line = bob.log()[1]
            assert re.fullmatch(r"guest\d+: hi bob", ann_line)
            assert not ann_line.startswith(f"{bob_name}:")
            ann.wait_for_line(ann_line)

            # Bob closes his tab: the browser sends its close frame and drops the socket.
            bob.close()
            bob = None
            ann.wait_for_line(f"{bob_name} left")
            assert ann.log() == [
                f"{bob_name} joined",
                f"{bob_name}: hello from bob",
                ann_line,
                f"{bob_name} left",
            ]
            # Ann leaves through her page's socket: the page sees a clean close.
            ann.evaluate("ws.close(1000)")
            ann.wait_until("ws.readyState === WebSocket.CLOSED")
            assert ann.log()[-1] == "closed (1000 )"
        finally:
            for page in (bob, ann):
                if page is not None:
                    page.close()
        # Both sockets are out of the room before the server stops.
        deadline = time.monotonic() + TIMEOUT
        while app[chat.room_key]:
            assert time.monotonic() < deadline, "a closed page is still in the room"
            time.sleep(0.01)
