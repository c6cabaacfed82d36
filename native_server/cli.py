"""``python -m asgiweb.web [options] package.module:entry [args...]``.

The entry is either aiohttp's init function (called with the leftover arguments, it
returns the Application or a coroutine that does) or an Application itself, as
``uvicorn module:app`` names it. ``--workers N`` and ``--reload`` run the application in
child processes under :class:`~native_server.supervisor.Supervisor`; without them the
application is served in this process, as aiohttp's command line does.
"""

from __future__ import annotations

import argparse
import asyncio
import builtins
import functools
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Sequence
from importlib import import_module
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .run import (
    LOOP_CHOICES,
    LOOP_ENV,
    UVLOOP_MISSING,
    env_loop_choice,
    new_event_loop,
    run_app,
)
from .runner import GracefulExit

if TYPE_CHECKING:
    from asgiweb.app import Application

__all__ = ["main"]

_RELOAD_MISSING = "--reload needs watchfiles: pip install 'asgiweb[reload]'"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asgiweb.web", description="Serve an asgiweb Application on the native server."
    )
    parser.add_argument(
        "entry_func",
        metavar="entry-func",
        help="'module:function', a callable that gets the leftover arguments and returns "
        "the Application to run, or 'module:app', the Application itself",
    )
    parser.add_argument("-H", "--hostname", default=None, help="host to listen on (localhost)")
    parser.add_argument("-P", "--port", type=int, default=8080, help="TCP port (%(default)s)")
    parser.add_argument("-U", "--path", default=None, help="Unix socket path to listen on")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port with SO_REUSEPORT (Linux); above 1, a "
        "supervisor process restarts the workers that die (%(default)s)",
    )
    parser.add_argument(
        "--reload",
        action="store_true",
        help="for development: restart the worker when a .py file changes",
    )
    parser.add_argument(
        "--reload-dir",
        action="append",
        default=None,
        metavar="DIR",
        help="a directory to watch with --reload (repeatable; default: the current directory)",
    )
    parser.add_argument(
        "--loop",
        choices=LOOP_CHOICES,
        default=None,
        help=f"event loop: 'auto' is uvloop when installed and the application set no "
        f"event loop policy, else asyncio (default: ${LOOP_ENV}, else auto)",
    )
    return parser


def _split_entry(parser: argparse.ArgumentParser, entry: str) -> tuple[str, str]:
    module_name, _, attribute = entry.partition(":")
    if not module_name or not attribute:
        parser.error("'entry-func' not in 'module:function' syntax")
    if module_name.startswith("."):
        parser.error("relative module names not supported")
    return module_name, attribute


def _load(parser: argparse.ArgumentParser, entry: str) -> Any:
    module_name, attribute = _split_entry(parser, entry)
    try:
        module = import_module(module_name)
    except ImportError as exc:
        parser.error(f"unable to import {module_name}: {exc}")
    try:
        return getattr(module, attribute)
    except AttributeError:
        parser.error(f"module {module_name!r} has no attribute {attribute!r}")


def _app_from_entry(
    parser: argparse.ArgumentParser, entry: str, extra: list[str]
) -> Application | Awaitable[Application]:
    """Import ``entry``; return the Application it names, or what its function returns."""
    from asgiweb.app import Application

    func = _load(parser, entry)
    if isinstance(func, Application):
        if extra:
            parser.error(
                f"unrecognized arguments: {' '.join(extra)} ({entry} is an Application; "
                "only an init function receives extra arguments)"
            )
        return func
    if not callable(func):
        parser.error(f"{entry!r} is not callable")
    app = func(extra)
    # An async init_func is awaited by run_app on the serving loop, which checks its result.
    if not asyncio.iscoroutine(app) and not isinstance(app, Application):
        parser.error(f"{entry} returned {type(app).__name__}, expected an asgiweb Application")
    return app


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse the option combinations that cannot work, before any process starts."""
    _split_entry(parser, args.entry_func)
    if args.path is not None and not hasattr(socket, "AF_UNIX"):
        parser.error("Unix socket paths are not supported on this system")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, not {args.workers}")
    if args.workers > 1:
        if args.reload:
            parser.error("--reload runs one worker: it cannot be combined with --workers > 1")
        # Elsewhere SO_REUSEPORT either does not exist or does not spread connections.
        if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
            parser.error(
                "--workers > 1 needs SO_REUSEPORT load balancing (Linux); use gunicorn "
                "with asgiweb.worker.GunicornWebWorker or uvicorn --workers instead"
            )
        if args.path is not None:
            parser.error("--workers > 1 serves TCP only: -U/--path cannot be shared")
        if args.port == 0:
            parser.error("--workers > 1 needs a fixed port: with -P 0 each worker gets its own")
    _check_loop(parser, args.loop)
    if args.reload_dir and not args.reload:
        parser.error("--reload-dir needs --reload")
    if args.reload:
        try:
            import watchfiles  # noqa: F401
        except ImportError:
            parser.error(_RELOAD_MISSING)
        for directory in args.reload_dir or ():
            if not os.path.isdir(directory):
                parser.error(f"--reload-dir {directory!r} is not a directory")


def _check_loop(parser: argparse.ArgumentParser, choice: str | None) -> None:
    """Fail before any worker starts on an unknown ASGIWEB_LOOP or a missing uvloop."""
    source = f"--loop {choice}"
    if choice is None:
        choice = env_loop_choice()
        source = f"{LOOP_ENV}={choice}"
        if choice not in LOOP_CHOICES:
            parser.error(f"{LOOP_ENV}={choice!r} is not one of {', '.join(LOOP_CHOICES)}")
    if choice == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            parser.error(f"{source}: {UVLOOP_MISSING}")


def _serve(
    args: argparse.Namespace,
    app: Application | Awaitable[Application],
    *,
    reuse_port: bool = False,
    loop: asyncio.AbstractEventLoop | None = None,
    notify: Connection | None = None,
) -> None:
    logging.basicConfig(level=logging.DEBUG)
    # Our own loop, not run_app's choice: --loop wins over ASGIWEB_LOOP.
    handle_signals = loop is None
    if loop is None:
        loop = new_event_loop(args.loop)
    if args.path is not None and args.hostname is None:
        host, port = None, None
    else:
        host, port = args.hostname or "localhost", args.port
    announce = builtins.print
    if notify is not None:
        # run_app prints "Running on" once its sites listen: tell the supervisor then.
        def announce(*values: object, **kwargs: Any) -> None:
            builtins.print(*values, **kwargs)
            notify.send_bytes(b"serving")
            notify.close()

    run_app(
        app, host=host, port=port, path=args.path, reuse_port=reuse_port or None,
        loop=loop, handle_signals=handle_signals, print=announce,
    )  # fmt: skip


def run_worker(
    args: argparse.Namespace,
    extra: list[str],
    notify: Connection,
    *,
    reuse_port: bool,
    reload: bool,
) -> None:
    """Serve the entry in a worker process started by the supervisor; say on ``notify``
    when it serves."""
    # Ctrl+C reaches the whole process group; the supervisor answers it with one SIGTERM
    # per worker (and a second Ctrl+C with SIGKILL), so the worker ignores SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if reload:
        # An edit within the second the old .pyc was written, keeping the size, would
        # otherwise be served from that stale .pyc.
        sys.dont_write_bytecode = True
    logging.basicConfig(level=logging.DEBUG)
    # The entry is imported first: a policy it sets at import time is its loop choice.
    app = _app_from_entry(_parser(), args.entry_func, extra)
    loop = new_event_loop(args.loop)

    def on_sigterm() -> None:
        # Another SIGTERM (systemd signals the whole group, then so do we) must not cut
        # the drain short.
        loop.add_signal_handler(signal.SIGTERM, lambda: None)
        raise GracefulExit

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    _serve(args, app, reuse_port=reuse_port, loop=loop, notify=notify)


def _supervise(parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]) -> None:
    from .supervisor import Supervisor

    logging.basicConfig(level=logging.DEBUG)
    reload_dirs = [Path(d).resolve() for d in args.reload_dir or [os.getcwd()]]
    target = functools.partial(
        run_worker, args, extra, reuse_port=args.workers > 1, reload=args.reload
    )
    supervisor = Supervisor(
        target, workers=args.workers, reload_dirs=reload_dirs if args.reload else ()
    )
    status = supervisor.run()
    parser.exit(status, "Stopped\n" if status == 0 else None)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; extra arguments go to ``init_func``."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    _check(parser, args)
    if args.workers > 1 or args.reload:
        _supervise(parser, args, extra)
    else:
        _serve(args, _app_from_entry(parser, args.entry_func, extra))
        parser.exit(message="Stopped\n")
