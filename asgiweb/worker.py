"""The documented path of the gunicorn worker, which lives with the native server
(``native_server/worker.py``): ``--worker-class asgiweb.worker.GunicornWebWorker``.

A facade, as :mod:`asgiweb.web` is: one of the two asgiweb modules that import
``native_server`` (aiohttp's ``aiohttp.worker`` likewise imports its server). Importing it
imports gunicorn.
"""

from __future__ import annotations

from native_server.worker import GunicornUVLoopWebWorker, GunicornWebWorker

__all__ = ["GunicornUVLoopWebWorker", "GunicornWebWorker"]
