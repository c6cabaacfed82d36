"""Whether the compiled accelerator is in use, and its functions when it is.

``native_server.wire._speedups`` is built from C by ``pip install`` where a compiler is
available (see setup.py); each of its functions has a pure-Python twin in this package
with the same results and errors. ``ASGIWEB_NO_EXTENSIONS`` set to anything but ``""``
or ``"0"`` makes the server use the Python twins even where the extension is installed
(for ``simple_heads``, a fast path, it reads every request head with llhttp instead).
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["ENABLED", "speedups"]


def _load() -> ModuleType | None:
    if os.environ.get("ASGIWEB_NO_EXTENSIONS", "") not in ("", "0"):
        return None
    try:
        from . import _speedups
    except ImportError:
        return None  # not built here: pure Python, same behaviour
    return _speedups


#: The compiled module, or None when the pure-Python functions are in use.
speedups: ModuleType | None = _load()
#: True when the compiled functions are in use.
ENABLED: bool = speedups is not None
