"""Typed keys for the state mappings of applications, requests and responses."""

from __future__ import annotations

import sys
from contextlib import suppress
from functools import total_ordering
from types import FrameType
from typing import Generic, TypeVar, final, get_args

__all__ = ["AppKey", "BaseKey", "RequestKey", "ResponseKey"]

_T = TypeVar("_T")


def _defining_module() -> str:
    """The module whose top-level code is running: where a key made now is defined.

    A key made inside a function is named after the module that runs at top level
    (``__main__`` under a script or a test runner), as aiohttp names it.
    """
    caller = sys._getframe(2)
    frame: FrameType | None = caller
    while frame is not None:
        if frame.f_code.co_name == "<module>":
            return str(frame.f_globals.get("__name__", ""))
        frame = frame.f_back
    return str(caller.f_globals.get("__name__", ""))  # no top-level frame: a thread


@total_ordering
class BaseKey(Generic[_T]):
    """A typed key for a state mapping: ``mapping[KEY]`` has the type ``KEY`` was made with.

    Keys order by name and before any other kind of key, so mixed keys still sort.
    """

    __slots__ = ("_name", "_t", "__orig_class__")

    def __init__(self, name: str, t: type[_T] | None = None) -> None:
        # Qualified with the defining module so keys with equal names stay apart.
        self._name = f"{_defining_module()}.{name}"
        self._t = t

    def __lt__(self, other: object) -> bool:
        if isinstance(other, BaseKey):
            return self._name < other._name
        return True

    def __repr__(self) -> str:
        t = self._t
        if t is None:
            with suppress(AttributeError):
                # Set by typing when the key is made as AppKey[T]("name").
                t = get_args(self.__orig_class__)[0]  # type: ignore[attr-defined]
        if t is None:
            t_repr = "<<Unknown>>"
        elif isinstance(t, type):
            t_repr = (
                t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
            )
        else:
            t_repr = repr(t)
        return f"<{self.__class__.__name__}({self._name}, type={t_repr})>"


@final
class AppKey(BaseKey[_T]):
    """A typed key for application state (``app[KEY]``)."""

    __slots__ = ()


@final
class RequestKey(BaseKey[_T]):
    """A typed key for request state (``request[KEY]``)."""

    __slots__ = ()


@final
class ResponseKey(BaseKey[_T]):
    """A typed key for response state (``response[KEY]``)."""

    __slots__ = ()
