"""run_app: serve an application on the native server until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import builtins
import logging
import socket
import ssl as ssl_mod
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from asgiweb.accesslog import AccessLogger
from asgiweb.helpers import access_logger

from .runner import AppRunner, BaseSite, GracefulExit, SockSite, TCPSite, UnixSite

if TYPE_CHECKING:
    from asgiweb.app import Application

__all__ = ["run_app"]


async def _run_app(
    app: Application | Awaitable[Application],
    *,
    host: str | Iterable[str] | None,
    port: int | None,
    path: str | Iterable[str] | None,
    sock: socket.socket | Iterable[socket.socket] | None,
    shutdown_timeout: float,
    ssl_context: ssl_mod.SSLContext | None,
    print: Callable[..., None] | None,
    backlog: int,
    reuse_address: bool | None,
    reuse_port: bool | None,
    **runner_kwargs: Any,
) -> None:
    if asyncio.iscoroutine(app) or isinstance(app, asyncio.Future):
        app = await app
    runner = AppRunner(app, shutdown_timeout=shutdown_timeout, **runner_kwargs)  # type: ignore[arg-type]
    await runner.setup()
    try:
        sites = _sites(
            runner, host, port, path, sock,
            ssl_context=ssl_context, backlog=backlog,
            reuse_address=reuse_address, reuse_port=reuse_port,
        )  # fmt: skip
        for site in sites:
            await site.start()
        if print is not None:
            names = sorted(str(s.name) for s in runner.sites)
            print(f"======== Running on {', '.join(names)} ========\n(Press CTRL+C to quit)")
        while True:
            await asyncio.sleep(3600)
    finally:
        await runner.cleanup()


def _sites(
    runner: AppRunner,
    host: str | Iterable[str] | None,
    port: int | None,
    path: str | Iterable[str] | None,
    sock: socket.socket | Iterable[socket.socket] | None,
    *,
    ssl_context: ssl_mod.SSLContext | None,
    backlog: int,
    reuse_address: bool | None,
    reuse_port: bool | None,
) -> list[BaseSite]:
    """The sites to listen on: TCP for each host (or every interface when no path or
    socket is given, or a port is), a Unix socket per path, and each socket given."""
    sites: list[BaseSite] = []
    site_kwargs: dict[str, Any] = {"ssl_context": ssl_context, "backlog": backlog}
    tcp_kwargs = {"reuse_address": reuse_address, "reuse_port": reuse_port, **site_kwargs}
    if host is not None:
        for one_host in [host] if isinstance(host, str) else host:
            sites.append(TCPSite(runner, one_host, port, **tcp_kwargs))
    elif path is None and sock is None or port is not None:
        sites.append(TCPSite(runner, port=port, **tcp_kwargs))
    if path is not None:
        for one_path in [path] if isinstance(path, str) else path:
            sites.append(UnixSite(runner, one_path, **site_kwargs))
    if sock is not None:
        for one_sock in [sock] if isinstance(sock, socket.socket) else sock:
            sites.append(SockSite(runner, one_sock, **site_kwargs))
    return sites


def _cancel_tasks(tasks: set[asyncio.Task[Any]], loop: asyncio.AbstractEventLoop) -> None:
    # A task that already failed raised its exception to run_app's caller; report only
    # the ones that fail while being cancelled.
    tasks = {task for task in tasks if not task.done()}
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during asyncio.run() shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )


def run_app(
    app: Application | Awaitable[Application],
    *,
    host: str | Iterable[str] | None = None,
    port: int | None = None,
    path: str | Iterable[str] | None = None,
    sock: socket.socket | Iterable[socket.socket] | None = None,
    shutdown_timeout: float = 60.0,
    keepalive_timeout: float = 75.0,
    header_read_timeout: float | None = 30.0,
    ssl_context: ssl_mod.SSLContext | None = None,
    print: Callable[..., None] | None = builtins.print,
    backlog: int = 128,
    access_log_class: type[Any] = AccessLogger,
    access_log_format: str = AccessLogger.LOG_FORMAT,
    access_log: logging.Logger | None = access_logger,
    handle_signals: bool = True,
    reuse_address: bool | None = None,
    reuse_port: bool | None = None,
    handler_cancellation: bool = False,
    loop: asyncio.AbstractEventLoop | None = None,
) -> None:
    """Serve ``app`` until interrupted, then shut down gracefully."""
    if loop is None:
        loop = asyncio.new_event_loop()
    if loop.get_debug():
        _show_access_log(access_log)
    main_task = loop.create_task(
        _run_app(
            app,
            host=host,
            port=port,
            path=path,
            sock=sock,
            shutdown_timeout=shutdown_timeout,
            ssl_context=ssl_context,
            print=print,
            backlog=backlog,
            reuse_address=reuse_address,
            reuse_port=reuse_port,
            keepalive_timeout=keepalive_timeout,
            header_read_timeout=header_read_timeout,
            access_log_class=access_log_class,
            access_log_format=access_log_format,
            access_log=access_log,
            handle_signals=handle_signals,
            handler_cancellation=handler_cancellation,
        )
    )
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main_task)
    except (GracefulExit, KeyboardInterrupt):
        pass
    finally:
        _shut_down(loop, main_task)


def _show_access_log(access_log: logging.Logger | None) -> None:
    # As aiohttp does in debug mode: show the access log when nothing else was configured.
    if access_log is None or access_log.name != "asgiweb.access":
        return
    if access_log.level == logging.NOTSET:
        access_log.setLevel(logging.DEBUG)
    if not access_log.hasHandlers():
        access_log.addHandler(logging.StreamHandler())


def _shut_down(loop: asyncio.AbstractEventLoop, main_task: asyncio.Task[None]) -> None:
    """Cancel what still runs, finish async generators, close the loop."""
    try:
        _cancel_tasks({main_task}, loop)
        _cancel_tasks(asyncio.all_tasks(loop), loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        # Even when shutting down failed: an unclosed loop leaks its self-pipe sockets.
        loop.close()
        asyncio.set_event_loop(None)
