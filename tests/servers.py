"""Run an ASGI/aiohttp-style app on a real loopback socket, on each supported path.

Each server runs in a thread with its own event loop, so tests drive it with
ordinary blocking clients (httpx, raw sockets) exactly as a user's client would.

A server thread's failures would otherwise only reach a log nobody reads, so for the
server's life `serve()` collects every error the server logs (``asgiweb.*``,
``uvicorn.error``, ``hypercorn.error`` at ERROR or above) and every exception its
event loop reports as unhandled, and fails the test at exit if there were any, with
the server-side tracebacks in the message. A test that provokes server errors on
purpose passes ``expect_errors=True``; then at least one error must have been logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

PATHS = ("native", "uvicorn", "hypercorn")

# "asgiweb" covers asgiweb.server, .web and .websocket; asgiweb.access only logs at INFO.
WATCHED_LOGGERS = ("asgiweb", "uvicorn.error", "hypercorn.error")


class ServerErrors(AssertionError):
    """The server under test failed on its side, whatever the client saw."""


def _port_slice() -> range:
    """The ports :func:`free_port` hands out in this process: below the kernel's ephemeral
    range, one slice per pytest-xdist worker."""
    low = 20000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            high = int(ranges.read().split()[0])
    except (OSError, ValueError, IndexError):
        high = 32768  # Linux's default start of the ephemeral range
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), index + 1)
    width = (high - low) // count
    return range(low + index * width, low + (index + 1) * width)


_PORTS = _port_slice()
_next_port = [random.randrange(len(_PORTS))]


def free_port() -> int:
    """A TCP port on 127.0.0.1 free a moment ago, for a program that must be told one.

    Not a port the kernel picked (``bind(("127.0.0.1", 0))``): the kernel hands that same
    range out to every server bound to port 0 and every outgoing connection, and one of
    those, in this worker or another, could take the port between this check and the
    program's own bind (the program then fails, and a test talks to a stranger). Ports
    come from below that range instead, from a slice of this xdist worker's own, in turn.
    """
    for _ in range(len(_PORTS)):
        port = _PORTS[_next_port[0] % len(_PORTS)]
        _next_port[0] += 1
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use (a server of an earlier test, or not ours at all)
            return port
    raise RuntimeError(f"no free port in {_PORTS}")


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class RunningServer:
    """A server running in a background thread."""

    def __init__(self, kind: str, url: str, port: int) -> None:
        self.kind = kind
        self.url = url
        self.port = port
        self.error: BaseException | None = None
        # Server-side errors so far, one formatted record (with traceback) each.
        self.errors: list[str] = []

    def logged(self, text: str) -> bool:
        """Whether one of the server-side errors mentions ``text``."""
        return any(text in error for error in self.errors)


class _ErrorCapture(logging.Handler):
    """Collect the errors one server thread logs and those its loop leaves unhandled."""

    def __init__(self, thread_name: str, errors: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s: %(message)s"))
        self.thread_name = thread_name
        self.errors = errors
        self.lost: list[str] = []  # loggers whose capture someone removed: errors went unseen

    def emit(self, record: logging.LogRecord) -> None:
        # Several servers may run at once (and loggers are global): keep only ours.
        if record.threadName == self.thread_name:
            self.errors.append(self.format(record))

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, asyncio.CancelledError):
            # Not a server error: some CPython releases (3.11.7 here) have asyncio.start_server's
            # done-callback (gh-110894) call task.exception() on a connection task that
            # hypercorn cancelled at shutdown, which raises CancelledError into the loop.
            return
        text = f"event loop: {context.get('message', 'unhandled exception')}"
        if exc is not None:
            text += "\n" + "".join(traceback.format_exception(exc)).rstrip()
        self.errors.append(text)
        loop.default_exception_handler(context)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
        raised: dict[logging.Logger, int] = {}
        for logger in loggers:
            logger.addHandler(self)
            if not logger.isEnabledFor(logging.ERROR):  # e.g. under caplog.at_level(CRITICAL)
                raised[logger] = logger.level
                logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger in loggers:
                if self not in logger.handlers:
                    self.lost.append(f"the error capture was removed from logger {logger.name!r}")
                logger.removeHandler(self)
            for logger, level in raised.items():
                logger.setLevel(level)


def _with_notes(exc: BaseException, problems: list[str]) -> BaseException:
    for problem in problems:
        exc.add_note(f"server side: {problem}")
    return exc


def _verdict(kind: str, fatal: list[str], errors: list[str], expect_errors: bool) -> None:
    if fatal:
        raise ServerErrors(f"the {kind} server failed:\n\n" + "\n\n".join(fatal + errors))
    if errors and not expect_errors:
        raise ServerErrors(
            f"the {kind} server logged {len(errors)} error(s); pass expect_errors=True "
            "if the test provokes them:\n\n" + "\n\n".join(errors)
        )
    if expect_errors and not errors:
        raise ServerErrors(f"expect_errors=True, but the {kind} server logged no error")


@contextlib.contextmanager
def _run_in_thread(
    main: Callable[[asyncio.Event, Callable[[], None]], Coroutine[Any, Any, None]],
    sock: socket.socket,
    kind: str,
    expect_errors: bool,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop,
) -> Iterator[RunningServer]:
    port = sock.getsockname()[1]
    server = RunningServer(kind, f"http://127.0.0.1:{port}", port)
    capture = _ErrorCapture(f"{kind}-server-{port}", server.errors)
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def target() -> None:
        loop = loop_factory()
        loop.set_exception_handler(capture.loop_exception)
        holder["loop"] = loop
        stop = asyncio.Event()
        holder["stop"] = stop
        try:
            loop.run_until_complete(main(stop, ready.set))
        except BaseException as exc:  # surfaced to the test below
            server.error = exc
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=target, name=capture.thread_name, daemon=True)
    with capture.installed():
        thread.start()
        if not ready.wait(10) or server.error is not None:
            thread.join(5)
            with contextlib.suppress(OSError):
                sock.close()
            error = server.error or RuntimeError(f"{kind} server did not start")
            raise _with_notes(error, server.errors)
        try:
            yield server
        except BaseException as exc:
            _with_notes(exc, _stop(thread, holder, sock, server) + server.errors)
            raise
        fatal = _stop(thread, holder, sock, server)
    _verdict(kind, fatal + capture.lost, server.errors, expect_errors)


def _stop(
    thread: threading.Thread, holder: dict[str, Any], sock: socket.socket, server: RunningServer
) -> list[str]:
    """Stop the server and wait for it; describe what went wrong on the way."""
    loop = holder["loop"]
    if not loop.is_closed():
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(holder["stop"].set)
    thread.join(15)
    with contextlib.suppress(OSError):  # hypercorn closes the descriptor it was given
        sock.close()
    fatal = []
    if thread.is_alive():
        fatal.append("the server thread did not stop within 15 s")
    if server.error is not None:
        fatal.append("".join(traceback.format_exception(server.error)).rstrip())
    return fatal


def wait_listening(
    port: int, timeout: float = 10.0, process: subprocess.Popen[str] | None = None
) -> None:
    """Return once something accepts connections on ``port``; raise if nothing does in
    ``timeout`` seconds or if ``process`` (the server's, when it runs apart) exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                output = process.communicate()[0]
                raise RuntimeError(f"the server exited before listening:\n{output}") from None
            time.sleep(0.01)
    raise RuntimeError(f"nothing listens on port {port}")


@contextlib.contextmanager
def serve(
    app: Any, kind: str, *, expect_errors: bool = False, loop: str = "asyncio", **options: Any
) -> Iterator[RunningServer]:
    """Serve ``app`` (an Application, or a low-level handler server) on the ``kind`` path,
    on an asyncio event loop or, with ``loop="uvloop"``, on uvloop's.

    Fails at exit if the server logged an error, unless ``expect_errors`` is true,
    in which case it fails if the server logged none.
    """
    loop_factory = asyncio.new_event_loop
    if loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    elif loop != "asyncio":
        raise ValueError(loop)
    sock = _bound_socket()
    if kind == "native":
        main = _native_main(app, sock, options)
    elif kind == "uvicorn":
        main = _uvicorn_main(app, sock, options)
    elif kind == "hypercorn":
        main = _hypercorn_main(app, sock, options)
    else:
        raise ValueError(kind)
    with _run_in_thread(main, sock, kind, expect_errors, loop_factory) as server:
        if kind == "hypercorn":
            wait_listening(server.port)
        yield server


def _native_main(app: Any, sock: socket.socket, options: dict[str, Any]) -> Any:
    from asgiweb import web

    async def main(stop: asyncio.Event, ready: Callable[[], None]) -> None:
        if isinstance(app, web.Application):
            runner: web.BaseRunner = web.AppRunner(app, **options)
        else:
            runner = web.ServerRunner(app, **options)
        await runner.setup()
        site = web.SockSite(runner, sock)
        await site.start()
        ready()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    return main


def _uvicorn_main(app: Any, sock: socket.socket, options: dict[str, Any]) -> Any:
    import uvicorn

    async def main(stop: asyncio.Event, ready: Callable[[], None]) -> None:
        # log_config=None: uvicorn's default dictConfig would strip the error capture's
        # handler from "uvicorn.error" (and that of any other server running).
        config = uvicorn.Config(
            app,
            lifespan=options.pop("lifespan", "auto"),
            log_level="warning",
            log_config=options.pop("log_config", None),
            **options,
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]

        async def run() -> None:
            try:
                await server.serve(sockets=[sock])
            except SystemExit as exc:
                # A SystemExit would escape the task and the loop, and leave the task's
                # exception unretrieved: make it an ordinary failure.
                raise RuntimeError(f"uvicorn exited with code {exc.code}") from exc

        task = asyncio.create_task(run())
        while not server.started:
            if task.done():
                await task
                raise RuntimeError("uvicorn exited during startup")
            await asyncio.sleep(0.005)
        ready()
        await stop.wait()
        server.should_exit = True
        await task

    return main


def _hypercorn_main(app: Any, sock: socket.socket, options: dict[str, Any]) -> Any:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    async def main(stop: asyncio.Event, ready: Callable[[], None]) -> None:
        async def app_signalling_startup(scope: Any, receive: Any, send: Any) -> None:
            # hypercorn has no "started" flag: watch the lifespan for it instead.
            if scope["type"] != "lifespan":
                return await app(scope, receive, send)

            failed = False

            async def watch(message: Any) -> None:
                nonlocal failed
                if message["type"] == "lifespan.startup.failed":
                    failed = True
                await send(message)
                if message["type"] == "lifespan.startup.complete":
                    ready()

            try:
                await app(scope, receive, watch)
            finally:
                # A failed startup makes hypercorn raise, and the thread reports that error;
                # signalling now would let the test see a server that is not there.
                if not failed:
                    ready()  # no lifespan support, or it ended: serving either way

        error_logger = logging.getLogger("hypercorn.error")
        error_logger.setLevel(logging.WARNING)
        config = Config()
        config.bind = [f"fd://{sock.fileno()}"]
        config.loglevel = "WARNING"
        config.accesslog = None
        # A Logger is used as is; a stream target would replace its handlers, the capture's too.
        config.errorlog = error_logger
        config.graceful_timeout = 2
        for key, value in options.items():
            setattr(config, key, value)
        await hypercorn_serve(app_signalling_startup, config, shutdown_trigger=stop.wait)

    return main
