"""Run aiohttp's extensions on asgiweb: aiohttp's server modules resolve to asgiweb's.

Extensions such as aiohttp-jinja2, aiohttp-session or aiohttp-cors import ``aiohttp.web``
themselves and check what they get against aiohttp's classes. :func:`install` makes every
server-side module of aiohttp (``aiohttp.web``, ``aiohttp.web_request``,
``aiohttp.web_exceptions``, …) a view of asgiweb's, and puts asgiweb's server ABCs into
``aiohttp.abc``, so an extension imported afterwards works with asgiweb's requests,
responses, exceptions and router. aiohttp's client is untouched and keeps working in the
same process.

Call it before anything imports ``aiohttp.web``::

    import asgiweb.aiohttp_compat
    asgiweb.aiohttp_compat.install()

    import aiohttp_jinja2  # now built on asgiweb's classes

or run an unmodified program with it installed first::

    python -m asgiweb.aiohttp_compat -m uvicorn mod:app
    python -m asgiweb.aiohttp_compat -m aiohttp.web -P 8080 mod:init_func
    python -m asgiweb.aiohttp_compat mod.py
"""

from __future__ import annotations

import importlib
import runpy
import sys
import types
import warnings
from typing import Any

__all__ = ["CompatError", "install", "installed", "main"]

#: aiohttp's server modules, each answered from asgiweb's public facade.
_FACADE_VIEWS = (
    "aiohttp.web_app",
    "aiohttp.web_exceptions",
    "aiohttp.web_fileresponse",
    "aiohttp.web_log",
    "aiohttp.web_middlewares",
    "aiohttp.web_protocol",
    "aiohttp.web_request",
    "aiohttp.web_response",
    "aiohttp.web_routedef",
    "aiohttp.web_runner",
    "aiohttp.web_server",
    "aiohttp.web_urldispatcher",
    "aiohttp.web_ws",
)
#: aiohttp modules that are asgiweb modules under another name.
_MODULE_ALIASES = {
    "aiohttp.test_utils": "asgiweb.test_utils",
    "aiohttp.worker": "native_server.worker",
}
#: Server ABCs in ``aiohttp.abc`` (a module the client shares) replaced by asgiweb's.
_ABC_NAMES = ("AbstractRouter", "AbstractMatchInfo", "AbstractView", "AbstractAccessLogger")

_CLI_ALIASES = {"aiohttp.web": "asgiweb.web"}

_MARK = "__asgiweb_compat__"
_installed = False


class CompatError(RuntimeError):
    """The compatibility layer cannot be installed in this process."""


def installed() -> bool:
    """Whether :func:`install` has run in this process."""
    return _installed


def install() -> None:
    """Make aiohttp's server modules resolve to asgiweb's classes. Idempotent.

    Raises :class:`CompatError` when aiohttp is not installed, or when one of its server
    modules was imported already: classes from both frameworks would then meet in one
    process, and an extension's ``isinstance`` checks would fail at random places.
    """
    global _installed
    if _installed:
        return
    try:
        import aiohttp
        import aiohttp.abc
        import aiohttp.helpers
    except ImportError as exc:
        raise CompatError(
            "asgiweb.aiohttp_compat maps aiohttp's server modules for the aiohttp extensions "
            "that import them, and those extensions need aiohttp installed: "
            "pip install aiohttp"
        ) from exc
    early = sorted(
        name
        for name in ("aiohttp.web", *_FACADE_VIEWS, *_MODULE_ALIASES)
        if name in sys.modules and not getattr(sys.modules[name], _MARK, False)
    )
    if early:
        raise CompatError(
            f"{', '.join(early)} was imported before asgiweb.aiohttp_compat.install(): "
            "call install() first, before importing any aiohttp extension or aiohttp.web "
            "(for example at the top of the module that builds the app, or run the program "
            "with `python -m asgiweb.aiohttp_compat`)"
        )

    from . import abc as asgiweb_abc
    from . import keys, web

    _bind(aiohttp, "aiohttp.web", web)
    for name in _FACADE_VIEWS:
        _bind(aiohttp, name, _facade_view(name))
    for name, target in _MODULE_ALIASES.items():
        _bind(aiohttp, name, _LazyAlias(name, target))
    for name in _ABC_NAMES:
        setattr(aiohttp.abc, name, getattr(asgiweb_abc, name))
    aiohttp.helpers.AppKey = keys.AppKey  # type: ignore[misc,assignment]
    _installed = True


def _bind(package: types.ModuleType, name: str, module: types.ModuleType) -> None:
    setattr(module, _MARK, True)
    sys.modules[name] = module
    setattr(package, name.rpartition(".")[2], module)


def _facade_view(name: str) -> types.ModuleType:
    """A module answering every name from ``asgiweb.web``."""
    from . import web

    module = types.ModuleType(name, f"asgiweb's counterpart of {name} (asgiweb.aiohttp_compat).")

    def __getattr__(attr: str) -> Any:
        try:
            value = getattr(web, attr)
        except AttributeError:
            raise AttributeError(
                f"{name}.{attr}: asgiweb has no counterpart of this name "
                "(asgiweb.aiohttp_compat is installed)"
            ) from None
        setattr(module, attr, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__all__ = list(web.__all__)  # type: ignore[attr-defined]
    return module


class _LazyAlias(types.ModuleType):
    """A module that is another module, imported on first use.

    ``native_server.worker`` imports gunicorn: only a program that uses it pays for that.
    """

    def __init__(self, name: str, target: str) -> None:
        super().__init__(name, f"asgiweb's {target} (asgiweb.aiohttp_compat).")
        self.__dict__["_target"] = target

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self.__dict__["_target"]), attr)
        setattr(self, attr, value)
        return value

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self.__dict__["_target"]))


def main(argv: list[str] | None = None) -> None:
    """``python -m asgiweb.aiohttp_compat (-m module | script.py) [args…]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: python -m asgiweb.aiohttp_compat (-m module | script.py) [args...]"
    if not args or args[0] in ("-h", "--help"):
        print(usage, file=sys.stderr)
        raise SystemExit(0 if args else 2)
    install()
    if args[0] == "-m":
        if len(args) < 2:
            print(usage, file=sys.stderr)
            raise SystemExit(2)
        # aiohttp's CLI is asgiweb's: running aiohttp/web.py itself would bring aiohttp's
        # server classes back.
        module = _CLI_ALIASES.get(args[1], args[1])
        sys.argv = [module, *args[2:]]
        with warnings.catch_warnings():
            # asgiweb.web is imported by install() already; running it as __main__ is fine.
            warnings.filterwarnings("ignore", "'asgiweb.web' found in sys.modules", RuntimeWarning)
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()
