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


# Long runs (the 30-second soak, the big fuzz budgets) stay out of CI's five minutes:
# they run with `pytest --run-long` or ASGIWEB_LONG=1, and only then.
LONG_MARKERS = {
    "soak": "a load test of 30 seconds or more (docs/reliability.md)",
    "fuzz_long": "property-based fuzzing with a large example budget",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-long", action="store_true", help="also run the tests marked soak or fuzz_long"
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, text in LONG_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}; needs --run-long or ASGIWEB_LONG=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import os

    if config.getoption("--run-long") or os.environ.get("ASGIWEB_LONG") == "1":
        return
    skip = pytest.mark.skip(reason="long run: use --run-long or ASGIWEB_LONG=1")
    for item in items:
        if any(item.get_closest_marker(name) for name in LONG_MARKERS):
            item.add_marker(skip)
