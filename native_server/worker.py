"""A gunicorn worker that runs the application on the native server.

``gunicorn myapp:app --worker-class asgiweb.worker.GunicornWebWorker`` (the documented
path, re-exported by ``asgiweb/worker.py``; ``native_server.worker.GunicornWebWorker``
names the same class).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import signal
import sys
from typing import Any

from gunicorn.workers import base

from asgiweb.accesslog import AccessLogger
from asgiweb.app import Application

from .runner import AppRunner, SockSite

__all__ = ["GunicornWebWorker", "GunicornUVLoopWebWorker"]

# gunicorn's default access format speaks WSGI (%(h)s ...); ours is Apache-like (%a ...).
_GUNICORN_FORMAT_RE = re.compile(r"%\([^)]+\)s")


class GunicornWebWorker(base.Worker):  # type: ignore[misc]
    """Serves an asgiweb :class:`Application` (or a coroutine returning one) per worker."""

    DEFAULT_AIOHTTP_LOG_FORMAT = AccessLogger.LOG_FORMAT
    DEFAULT_GUNICORN_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'

    alive: bool  # set by gunicorn's (untyped) Worker.__init__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._task: asyncio.Task[None] | None = None
        self.exit_code = 0
        self._notify_waiter: asyncio.Future[bool] | None = None

    def init_process(self) -> None:
        # The arbiter's loop must not leak into the worker after fork.
        asyncio.set_event_loop(None)
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        super().init_process()

    def run(self) -> None:
        self._task = self.loop.create_task(self._run())
        try:
            self.loop.run_until_complete(self._task)
        except Exception:
            self.log.exception("Exception in gunicorn worker")
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()
        sys.exit(self.exit_code)

    async def _run(self) -> None:
        app = self.wsgi
        if inspect.iscoroutinefunction(app) or asyncio.iscoroutine(app):
            app = await (app() if inspect.iscoroutinefunction(app) else app)
        if not isinstance(app, Application):
            raise RuntimeError(
                f"wsgi app should be an asgiweb Application or a coroutine returning one, "
                f"got {app!r}"
            )
        access_log = self.log.access_log if self.cfg.accesslog else None
        runner = AppRunner(
            app,
            logger=self.log,
            keepalive_timeout=self.cfg.keepalive,
            access_log=access_log,
            access_log_format=self._log_format(self.cfg.access_log_format),
            shutdown_timeout=self.cfg.graceful_timeout / 100 * 95,
        )
        await runner.setup()
        ssl_context = self._ssl_context() if self.cfg.is_ssl else None
        for sock in self.sockets:
            await SockSite(runner, sock, ssl_context=ssl_context).start()
        server = runner.server
        assert server is not None
        try:
            while self.alive:
                self.notify()
                if self.max_requests and server.requests_count > self.max_requests:
                    self.alive = False
                    self.log.info("Max requests, shutting down: %s", self)
                elif self.ppid != os.getppid():
                    self.alive = False
                    self.log.info("Parent changed, shutting down: %s", self)
                else:
                    await self._wait_next_notify()
        finally:
            await runner.cleanup()

    def _wait_next_notify(self) -> asyncio.Future[bool]:
        self._notify_waiter_done()
        waiter = self._notify_waiter = self.loop.create_future()
        self.loop.call_later(1.0, self._notify_waiter_done, waiter)
        return waiter

    def _notify_waiter_done(self, waiter: asyncio.Future[bool] | None = None) -> None:
        if waiter is None:
            waiter = self._notify_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)
        if waiter is self._notify_waiter:
            self._notify_waiter = None

    def init_signals(self) -> None:
        # Handled on the loop so a signal wakes the worker instead of interrupting a callback.
        self.loop.add_signal_handler(signal.SIGQUIT, self.handle_quit, signal.SIGQUIT, None)
        self.loop.add_signal_handler(signal.SIGTERM, self.handle_exit, signal.SIGTERM, None)
        self.loop.add_signal_handler(signal.SIGINT, self.handle_quit, signal.SIGINT, None)
        self.loop.add_signal_handler(signal.SIGWINCH, self.handle_winch, signal.SIGWINCH, None)
        self.loop.add_signal_handler(signal.SIGUSR1, self.handle_usr1, signal.SIGUSR1, None)
        self.loop.add_signal_handler(signal.SIGABRT, self.handle_abort, signal.SIGABRT, None)
        # Interrupted system calls are restarted rather than failing with EINTR.
        signal.siginterrupt(signal.SIGTERM, False)
        signal.siginterrupt(signal.SIGUSR1, False)

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.alive = False
        self.cfg.worker_int(self)
        self._notify_waiter_done()

    def handle_abort(self, sig: int, frame: Any) -> None:
        self.alive = False
        self.exit_code = 1
        self.cfg.worker_abort(self)
        sys.exit(1)

    def _ssl_context(self) -> Any:
        import ssl

        ctx = ssl.SSLContext(self.cfg.ssl_version)
        ctx.load_cert_chain(self.cfg.certfile, self.cfg.keyfile)
        ctx.verify_mode = self.cfg.cert_reqs
        if self.cfg.ca_certs:
            ctx.load_verify_locations(self.cfg.ca_certs)
        if self.cfg.ciphers:
            ctx.set_ciphers(self.cfg.ciphers)
        return ctx

    def _log_format(self, source_format: str) -> str:
        if source_format == self.DEFAULT_GUNICORN_LOG_FORMAT:
            return self.DEFAULT_AIOHTTP_LOG_FORMAT
        if _GUNICORN_FORMAT_RE.search(source_format):
            raise ValueError(
                "Gunicorn's style options in form of `%(name)s` are not supported "
                "for the log formatting. Please use asgiweb's format specification "
                "to configure access log formatting."
            )
        return source_format


class GunicornUVLoopWebWorker(GunicornWebWorker):
    """The same worker on uvloop (``pip install 'asgiweb[uvloop]'``)."""

    def init_process(self) -> None:
        import uvloop

        asyncio.set_event_loop(None)
        self.loop = uvloop.new_event_loop()
        asyncio.set_event_loop(self.loop)
        base.Worker.init_process(self)
