"""asgiweb.pytest_plugin without servers: path selection, markers, error bookkeeping."""

from __future__ import annotations

import logging
import sys

import pytest

from asgiweb.pytest_plugin import _format_error, _Started

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers -p no:cacheprovider
filterwarnings =
    error
    # In-process runs import the plugin once for all of them; it has no asserts to rewrite.
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
"""

# Synchronous tests that only look at the chosen path: no server, no event loop.
SELECTION = """
import pytest

SEEN = []


def test_plain(asgiweb_path):
    SEEN.append(("plain", asgiweb_path))


@pytest.mark.asgiweb_path("uvicorn")
def test_one_marked(asgiweb_path):
    SEEN.append(("one", asgiweb_path))


@pytest.mark.asgiweb_path("hypercorn", "native", "hypercorn")
def test_two_marked(asgiweb_path):
    SEEN.append(("two", asgiweb_path))


@pytest.mark.parametrize("asgiweb_path", ["native"])
def test_own_parametrize(asgiweb_path):
    SEEN.append(("own", asgiweb_path))


def test_no_fixture():
    SEEN.append(("none", None))


def test_zz_report():
    print("SEEN", sorted(SEEN, key=repr))
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makeconftest('pytest_plugins = ["asgiweb.pytest_plugin"]\n')
    pytester.makepyfile(test_selection=SELECTION)
    return pytester


def seen(result: pytest.RunResult) -> str:
    line = next(line for line in result.outlines if "SEEN [" in line)
    return line[line.index("SEEN [") :]


def test_default_is_native_without_ids(suite: pytest.Pytester) -> None:
    result = suite.runpytest_inprocess("-v", "-s")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines_random(
        [
            "*::test_plain PASSED*",
            "*::test_one_marked PASSED*",
            "*::test_no_fixture PASSED*",
            "*::test_two_marked[[]hypercorn[]] PASSED*",
            "*::test_two_marked[[]native[]] PASSED*",
        ]
    )
    assert seen(result) == (
        "SEEN [('none', None), ('one', 'uvicorn'), ('own', 'native'), ('plain', 'native'), "
        "('two', 'hypercorn'), ('two', 'native')]"
    )


def test_all_parametrises_only_the_tests_that_use_it(suite: pytest.Pytester) -> None:
    result = suite.runpytest_inprocess("-v", "-s", "--asgiweb-path=all")
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines_random(
        [f"*::test_plain[[]{path}[]] PASSED*" for path in ("native", "uvicorn", "hypercorn")]
        + ["*::test_no_fixture PASSED*", "*::test_one_marked PASSED*"]
    )
    assert "('plain', 'hypercorn'), ('plain', 'native'), ('plain', 'uvicorn')" in seen(result)


def test_one_path_for_the_run(suite: pytest.Pytester) -> None:
    result = suite.runpytest_inprocess("-s", "--asgiweb-path=hypercorn")
    result.assert_outcomes(passed=7)
    # The marker overrides the option; the test's own parametrize is left alone.
    assert "('one', 'uvicorn'), ('own', 'native'), ('plain', 'hypercorn')" in seen(result)


def test_markers_are_registered_for_strict_markers(suite: pytest.Pytester) -> None:
    result = suite.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.asgiweb_path(*paths)*", "@pytest.mark.asgiweb_server_errors(mode)*"]
    )


def test_bad_marker_values_are_errors(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makeconftest('pytest_plugins = ["asgiweb.pytest_plugin"]\n')
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.asgiweb_path("tornado")
        def test_path(asgiweb_path):
            pass
        """,
        test_mode="""
        import pytest

        @pytest.mark.asgiweb_server_errors("sometimes")
        async def test_mode(aiohttp_client):
            pass
        """,
    )
    result = pytester.runpytest_inprocess("test_bad.py")
    result.stdout.fnmatch_lines(["*unknown asgiweb path 'tornado'; choose from native*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result = pytester.runpytest_inprocess("test_mode.py", "-o", "asyncio_mode=auto")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(['*asgiweb_server_errors takes "allow" or "fail", not *sometimes*'])


class FakeServer:
    def __init__(self) -> None:
        self.errors: list[BaseException | logging.LogRecord] = []


def test_started_reports_each_error_once() -> None:
    started = _Started()
    first, second = FakeServer(), FakeServer()
    started.track(first)  # type: ignore[arg-type]
    started.track(second)  # type: ignore[arg-type]
    started.track(first)  # type: ignore[arg-type]
    assert started.new_errors() == []
    boom = RuntimeError("boom")
    second.errors.append(boom)
    assert started.new_errors() == [(second, boom)]
    assert started.new_errors() == []
    later = ValueError("later")
    first.errors.append(later)
    second.errors.append(later)
    # Servers running at once all record the same error: it is reported once.
    assert started.new_errors() == [(first, later)]
    assert started.new_errors() == []


def test_format_error_gives_the_traceback() -> None:
    try:
        raise RuntimeError("from the handler")
    except RuntimeError as exc:
        error = exc
        exc_info = sys.exc_info()
    text = _format_error(error)
    assert text.startswith("Traceback (most recent call last):")
    assert text.endswith("RuntimeError: from the handler")
    record = logging.LogRecord(
        "asgiweb.server", logging.ERROR, __file__, 1, "Error handling request %s", ("x",), exc_info
    )
    text = _format_error(record)
    assert text.startswith("asgiweb.server ERROR: Error handling request x\nTraceback")
    assert text.endswith("RuntimeError: from the handler")
