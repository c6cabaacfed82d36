"""run_app: serve an application on the native server until SIGINT or SIGTERM.

Unlike aiohttp's run_app, it runs on uvloop when uvloop is installed and the program
chose neither a loop nor an event loop policy (as uvicorn's ``--loop auto`` does);
``ASGIWEB_LOOP=asyncio|uvloop|auto`` overrides that without a code change.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import os
import socket
import ssl as ssl_mod
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from asgiweb.accesslog import AccessLogger
from asgiweb.helpers import access_logger, server_logger

from .runner import AppRunner, BaseSite, GracefulExit, SockSite, TCPSite, UnixSite

if TYPE_CHECKING:
    from asgiweb.app import Application

__all__ = ["LOOP_CHOICES", "new_event_loop", "run_app"]

LOOP_CHOICES = ("auto", "asyncio", "uvloop")
LOOP_ENV = "ASGIWEB_LOOP"
UVLOOP_MISSING = "uvloop is not installed: pip install 'asgiweb[uvloop]'"


def new_event_loop(choice: str | None = None) -> asyncio.AbstractEventLoop:
    """A new event loop for ``choice`` ("auto", "asyncio" or "uvloop"; by default the
    ``ASGIWEB_LOOP`` environment variable, else "auto").

    "auto" is uvloop when it imports and the program left asyncio's default event loop
    policy in place; a policy the program installed is its choice and is kept.
    Raises RuntimeError for "uvloop" without uvloop, ValueError for an unknown choice.
    """
    if choice is None:
        choice = env_loop_choice()
        source = f"{LOOP_ENV}={choice!r}"
    else:
        source = choice
    if choice not in LOOP_CHOICES:
        raise ValueError(
            f"unknown event loop ({source}): expected one of {', '.join(LOOP_CHOICES)}"
        )
    if choice == "auto" and not _default_policy():
        choice, source = "asyncio", "auto, the program's event loop policy"
    loop = _uvloop(choice == "uvloop") if choice != "asyncio" else None
    if loop is None:
        loop = asyncio.new_event_loop()
    server_logger.debug("Event loop: %s (%s)", _loop_name(loop), source)
    return loop


def env_loop_choice() -> str:
    """The loop ``ASGIWEB_LOOP`` asks for, unchecked; "auto" when unset or empty."""
    return os.environ.get(LOOP_ENV, "").strip().lower() or "auto"


def _default_policy() -> bool:
    # Exactly asyncio's class: a subclass or any other policy was installed on purpose.
    if sys.version_info < (3, 14):
        return type(asyncio.get_event_loop_policy()) is asyncio.DefaultEventLoopPolicy
    # 3.14 deprecates policies (3.16 removes them); while they exist they still tell.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        default = getattr(asyncio, "DefaultEventLoopPolicy", None)
        return default is None or type(asyncio.get_event_loop_policy()) is default


def _uvloop(required: bool) -> asyncio.AbstractEventLoop | None:
    try:
        import uvloop
    except ImportError:
        if required:
            raise RuntimeError(UVLOOP_MISSING) from None
        return None
    return uvloop.new_event_loop()


def _loop_name(loop: asyncio.AbstractEventLoop) -> str:
    cls = type(loop)
    return f"{cls.__module__}.{cls.__qualname__}"


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
    """Serve ``app`` until interrupted, then shut down gracefully.

    Without ``loop``, the loop comes from :func:`new_event_loop`: uvloop when installed
    and no event loop policy was set, unless ``ASGIWEB_LOOP`` says otherwise.
    """
    if loop is None:
        loop = new_event_loop()
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
