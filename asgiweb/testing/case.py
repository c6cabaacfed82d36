"""AioHTTPTestCase: unittest test cases against a served application (needs aiohttp)."""

from __future__ import annotations

import asyncio
import os
import warnings
from typing import Any
from unittest import IsolatedAsyncioTestCase

from ..app import Application
from ..request import Request
from .base import BaseTestServer
from .client import TestClient
from .servers import PATHS, make_test_server

__all__ = ["AioHTTPTestCase", "unittest_run_loop"]

#: The environment variable that picks the path of test cases that do not set one.
PATH_ENV = "ASGIWEB_TEST_PATH"


class AioHTTPTestCase(IsolatedAsyncioTestCase):
    """A test case with ``self.app`` (from :meth:`get_application`), served by
    ``self.server`` and reached through ``self.client`` (a :class:`TestClient`).

    The server runs on the path named by the class attribute ``asgiweb_path``
    (``"native"``, ``"uvicorn"`` or ``"hypercorn"``); left None, by the environment
    variable ``ASGIWEB_TEST_PATH``, else on the native server.
    """

    asgiweb_path: str | None = None

    async def get_application(self) -> Application:
        """The application to test: override this."""
        return self.get_app()

    def get_app(self) -> Application:
        """Obsolete: override :meth:`get_application` instead."""
        raise RuntimeError("Did you forget to define get_application()?")

    async def asyncSetUp(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.setUpAsync()

    async def setUpAsync(self) -> None:
        self.app = await self.get_application()
        self.server = await self.get_server(self.app)
        self.client = await self.get_client(self.server)
        await self.client.start_server()

    async def asyncTearDown(self) -> None:
        await self.tearDownAsync()

    async def tearDownAsync(self) -> None:
        await self.client.close()

    async def get_server(self, app: Application) -> BaseTestServer:
        """The server for ``app``, on the path this test case runs on."""
        path = self.asgiweb_path or os.environ.get(PATH_ENV) or "native"
        if path not in PATHS:
            raise ValueError(f"unknown asgiweb path {path!r}: expected one of {', '.join(PATHS)}")
        return make_test_server(app, path, loop=self.loop)

    async def get_client(self, server: BaseTestServer) -> TestClient[Request, Application]:
        """The client for ``server``."""
        return TestClient(server, loop=self.loop)  # type: ignore[return-value]


def unittest_run_loop(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Obsolete: AioHTTPTestCase runs coroutine test methods itself."""
    warnings.warn(
        "Decorator `@unittest_run_loop` is no longer needed in aiohttp 3.8+",
        DeprecationWarning,
        stacklevel=2,
    )
    return func
