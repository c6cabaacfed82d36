"""``python -m asgiweb.web [-H host] [-P port] [-U path] package.module:init_func [args...]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
from collections.abc import Sequence
from importlib import import_module
from typing import Any

from .run import run_app

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asgiweb.web", description="Serve an asgiweb Application on the native server."
    )
    parser.add_argument(
        "entry_func",
        metavar="entry-func",
        help="a callable in 'module:function' form; it gets the leftover arguments and "
        "returns the Application to run",
    )
    parser.add_argument("-H", "--hostname", default=None, help="host to listen on (localhost)")
    parser.add_argument("-P", "--port", type=int, default=8080, help="TCP port (%(default)s)")
    parser.add_argument("-U", "--path", default=None, help="Unix socket path to listen on")
    return parser


def _load(parser: argparse.ArgumentParser, entry: str) -> Any:
    module_name, _, func_name = entry.partition(":")
    if not module_name or not func_name:
        parser.error("'entry-func' not in 'module:function' syntax")
    if module_name.startswith("."):
        parser.error("relative module names not supported")
    try:
        module = import_module(module_name)
    except ImportError as exc:
        parser.error(f"unable to import {module_name}: {exc}")
    try:
        return getattr(module, func_name)
    except AttributeError:
        parser.error(f"module {module_name!r} has no attribute {func_name!r}")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; extra arguments go to ``init_func``."""
    from asgiweb.app import Application

    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    func = _load(parser, args.entry_func)
    if isinstance(func, Application):
        parser.error(
            f"{args.entry_func} is an Application; name a function that returns one "
            "(it receives the extra command-line arguments)"
        )
    if not callable(func):
        parser.error(f"{args.entry_func!r} is not callable")
    if args.path is not None and not hasattr(socket, "AF_UNIX"):
        parser.error("Unix socket paths are not supported on this system")
    app = func(extra)
    # An async init_func is awaited by run_app on the serving loop, which checks its result.
    if not asyncio.iscoroutine(app) and not isinstance(app, Application):
        parser.error(
            f"{args.entry_func} returned {type(app).__name__}, expected an asgiweb Application"
        )
    logging.basicConfig(level=logging.DEBUG)
    if args.path is not None and args.hostname is None:
        host, port = None, None
    else:
        host, port = args.hostname or "localhost", args.port
    run_app(app, host=host, port=port, path=args.path)
    parser.exit(message="Stopped\n")
