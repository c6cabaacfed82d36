"""Runners (own a Server and its sites) and sites (where the server listens)."""

from __future__ import annotations

import asyncio
import functools
import signal
import socket
import ssl as ssl_mod
import sys
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from asgiweb.accesslog import AccessLogger
from asgiweb.lifecycle import stop_in_order

from .server import Server

if TYPE_CHECKING:
    from asgiweb.app import Application

__all__ = [
    "BaseRunner",
    "AppRunner",
    "ServerRunner",
    "BaseSite",
    "TCPSite",
    "UnixSite",
    "SockSite",
    "GracefulExit",
    "NamedPipeSite",
]


class GracefulExit(SystemExit):
    """Raised by the signal handlers of :func:`run_app` to stop the server cleanly."""

    code = 1


def _raise_graceful_exit() -> None:
    raise GracefulExit()


class BaseRunner(ABC):
    """Owns a :class:`Server` and the sites that listen for it."""

    def __init__(
        self, *, handle_signals: bool = False, shutdown_timeout: float = 60.0, **kwargs: Any
    ) -> None:
        self._handle_signals = handle_signals
        self._kwargs = kwargs
        self._server: Server | None = None
        self._sites: list[BaseSite] = []
        self._shutdown_timeout = shutdown_timeout

    @property
    def server(self) -> Server | None:
        """The low-level :class:`Server` that handles connections; None before ``setup()``."""
        return self._server

    @property
    def addresses(self) -> list[Any]:
        """The bound addresses of every started site."""
        found = []
        for site in self._sites:
            server = site._server
            if server is not None:
                for sock in server.sockets:
                    found.append(sock.getsockname())
        return found

    @property
    def sites(self) -> set[BaseSite]:
        """The sites started on this runner."""
        return set(self._sites)

    async def setup(self) -> None:
        """Start the application (``on_startup``) and make the server."""
        loop = asyncio.get_running_loop()
        if self._handle_signals:
            try:
                loop.add_signal_handler(signal.SIGINT, _raise_graceful_exit)
                loop.add_signal_handler(signal.SIGTERM, _raise_graceful_exit)
            except NotImplementedError:  # pragma: no cover - Windows
                pass
        self._server = await self._make_server()

    @abstractmethod
    async def shutdown(self) -> None:
        """Run the application's ``on_shutdown``."""

    @abstractmethod
    async def _make_server(self) -> Server: ...

    @abstractmethod
    async def _cleanup_server(self) -> None: ...

    async def cleanup(self) -> None:
        """Stop in aiohttp's order: stop listening, close idle connections, ``on_shutdown``,
        wait for in-flight handlers, close the rest, ``on_cleanup``.

        An ``on_shutdown`` handler that raises skips none of the later steps (aiohttp
        skips them all, cleanup contexts included); its error is raised after them.
        """
        for site in list(self._sites):
            await site.stop()
        server = self._server
        if server is None:  # never set up, or its setup failed: what started still stops
            await self._release()
            return
        server.pre_shutdown()
        drain = functools.partial(server.shutdown, self._shutdown_timeout)
        await stop_in_order(self.shutdown, drain, self._release)

    async def _release(self) -> None:
        await self._cleanup_server()
        self._server = None
        self._remove_signal_handlers()

    def _remove_signal_handlers(self) -> None:
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            try:
                loop.remove_signal_handler(signal.SIGINT)
                loop.remove_signal_handler(signal.SIGTERM)
            except NotImplementedError:  # pragma: no cover - Windows
                pass

    def _reg_site(self, site: BaseSite) -> None:
        if site in self._sites:
            raise RuntimeError(f"Site {site} is already registered in runner {self}")
        self._sites.append(site)

    def _check_site(self, site: BaseSite) -> None:
        if site not in self._sites:
            raise RuntimeError(f"Site {site} is not registered in runner {self}")

    def _unreg_site(self, site: BaseSite) -> None:
        self._check_site(site)
        self._sites.remove(site)


class ServerRunner(BaseRunner):
    """Runs a low-level :class:`Server`."""

    def __init__(self, web_server: Server, *, handle_signals: bool = False, **kwargs: Any) -> None:
        super().__init__(handle_signals=handle_signals, **kwargs)
        self._web_server = web_server

    async def shutdown(self) -> None:
        """Nothing to run: a low-level server has no application signals."""
        pass

    async def _make_server(self) -> Server:
        return self._web_server

    async def _cleanup_server(self) -> None:
        pass


class AppRunner(BaseRunner):
    """Runs an :class:`~asgiweb.web.Application` on the native server."""

    def __init__(
        self,
        app: Application,
        *,
        handle_signals: bool = False,
        access_log_class: type[Any] = AccessLogger,
        **kwargs: Any,
    ) -> None:
        from asgiweb.app import Application

        if not isinstance(app, Application):
            raise TypeError(f"The first argument should be web.Application instance, got {app!r}")
        kwargs["access_log_class"] = access_log_class
        super().__init__(handle_signals=handle_signals, **kwargs)
        self._app = app
        self._served = app.serving()

    @property
    def app(self) -> Application:
        """The application served."""
        return self._app

    async def shutdown(self) -> None:
        """Run the application's ``on_shutdown`` signal."""
        await self._served.shutdown()

    async def _make_server(self) -> Server:
        served = self._served = self._app.serving()  # each setup() is one serving sequence
        await served.startup()
        kwargs = dict(self._kwargs)
        kwargs.update(served.handler_args)
        kwargs.setdefault("debug", served.debug)
        return Server(served.handler, request_factory=served.request_factory, **kwargs)

    async def _cleanup_server(self) -> None:
        await self._served.cleanup()


class BaseSite(ABC):
    """A place the runner's server listens on."""

    def __init__(
        self,
        runner: BaseRunner,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: ssl_mod.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        if runner.server is None:
            raise RuntimeError("Call runner.setup() before making a site")
        self._runner = runner
        self._ssl_context = ssl_context
        self._backlog = backlog
        self._server: asyncio.base_events.Server | None = None
        if shutdown_timeout != 60.0:
            runner._shutdown_timeout = shutdown_timeout

    @property
    @abstractmethod
    def name(self) -> str:
        """A URL-ish description of where this site listens."""

    @abstractmethod
    async def start(self) -> None:
        """Start listening; the runner's server handles each connection."""
        self._runner._reg_site(self)

    async def stop(self) -> None:
        """Stop listening; open connections are the runner's to close."""
        self._runner._check_site(self)
        if self._server is not None:
            self._server.close()
        self._runner._unreg_site(self)


class TCPSite(BaseSite):
    """Listens on a TCP host and port (8080 by default, 8443 with TLS)."""

    def __init__(
        self,
        runner: BaseRunner,
        host: str | None = None,
        port: int | None = None,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: ssl_mod.SSLContext | None = None,
        backlog: int = 128,
        reuse_address: bool | None = None,
        reuse_port: bool | None = None,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._host = host
        if port is None:
            port = 8443 if ssl_context else 8080
        self._port = port
        self._bound_port: int | None = None
        self._reuse_address = reuse_address
        self._reuse_port = reuse_port

    @property
    def port(self) -> int:
        """The port listened on once started (the one the OS chose for port 0);
        before that, the port asked for."""
        return self._port if self._bound_port is None else self._bound_port

    @property
    def name(self) -> str:
        """The URL listened on, such as ``http://0.0.0.0:8080``."""
        scheme = "https" if self._ssl_context else "http"
        host = "0.0.0.0" if not self._host else self._host
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        """Start listening on the host and port."""
        await super().start()
        # Inside a coroutine this is the running loop (aiohttp asks the same way).
        loop = asyncio.get_event_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_server(
            server,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        if self._server is not None and self._server.sockets:
            self._bound_port = self._server.sockets[0].getsockname()[1]


class UnixSite(BaseSite):
    """Listens on a Unix domain socket."""

    def __init__(
        self,
        runner: BaseRunner,
        path: str,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: ssl_mod.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._path = path

    @property
    def name(self) -> str:
        """The socket as a URL, such as ``http://unix:/run/app.sock:``."""
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://unix:{self._path}:"

    async def start(self) -> None:
        """Start listening on the Unix socket at the path."""
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_unix_server(
            server, self._path, ssl=self._ssl_context, backlog=self._backlog
        )


class SockSite(BaseSite):
    """Listens on a socket the caller already made and bound."""

    def __init__(
        self,
        runner: BaseRunner,
        sock: socket.socket,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: ssl_mod.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._sock = sock
        scheme = "https" if ssl_context else "http"
        if hasattr(socket, "AF_UNIX") and sock.family == socket.AF_UNIX:
            self._name = f"{scheme}://unix:{sock.getsockname()}:"
        else:
            host, port = sock.getsockname()[:2]
            self._name = f"{scheme}://{host}:{port}"

    @property
    def name(self) -> str:
        """The socket's address as a URL."""
        return self._name

    async def start(self) -> None:
        """Start accepting connections on the socket given."""
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_server(
            server, sock=self._sock, ssl=self._ssl_context, backlog=self._backlog
        )


class NamedPipeSite(BaseSite):
    """A Windows named pipe; only the proactor event loop on Windows provides them."""

    # Declared here: mypy skips __init__ past its win32 check on other platforms.
    _path: str

    def __init__(self, runner: BaseRunner, path: str, *, shutdown_timeout: float = 60.0) -> None:
        if sys.platform != "win32":
            raise RuntimeError("Named Pipes only available in proactor loop under windows")
        super().__init__(runner, shutdown_timeout=shutdown_timeout)
        self._path = path

    @property
    def name(self) -> str:
        """The pipe's path."""
        return self._path

    async def start(self) -> None:  # pragma: no cover - Windows only
        """Start listening on the named pipe (Windows only)."""
        await super().start()
        loop: Any = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._pipes = await loop.start_serving_pipe(server, self._path)

    async def stop(self) -> None:  # pragma: no cover - Windows only
        """Stop listening on the named pipe."""
        self._runner._check_site(self)
        for pipe in getattr(self, "_pipes", ()):
            pipe.close()
        self._runner._unreg_site(self)
