from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servers import PATHS, RunningServer, serve  # noqa: E402


@pytest.fixture(params=PATHS)
def path_kind(request: pytest.FixtureRequest) -> str:
    """Each functional test runs once per serving path."""
    return str(request.param)


@pytest.fixture
def serve_app(path_kind: str) -> Iterator[Callable[..., AbstractContextManager[RunningServer]]]:
    """``with serve_app(app) as server: server.url`` on the current path.

    ``serve_app(app, expect_errors=True)`` for a test that makes the server log errors.
    """

    def start(
        app: Any, *, expect_errors: bool = False, **options: Any
    ) -> AbstractContextManager[RunningServer]:
        return serve(app, path_kind, expect_errors=expect_errors, **options)

    yield start
