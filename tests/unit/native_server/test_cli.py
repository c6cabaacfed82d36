"""The command line's rules: which entries it serves and which option combinations it
refuses before starting anything; the supervisor giving up on workers that cannot start."""

from __future__ import annotations

import logging
import sys
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from asgiweb import web
from native_server import cli, supervisor
from tests.apps import slow, upload


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command line, expect argparse's usage error; return its message."""
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--workers", "0"], "--workers must be at least 1, not 0"),
        (["--workers", "-3"], "--workers must be at least 1, not -3"),
        (["--workers", "two"], "argument --workers: invalid int value: 'two'"),
        (["--workers", "2", "--reload"], "--reload runs one worker"),
        (["--workers", "2", "-U", "/tmp/x.sock"], "-U/--path cannot be shared"),
        (["--workers", "2", "-P", "0"], "--workers > 1 needs a fixed port"),
        (["--reload-dir", "."], "--reload-dir needs --reload"),
        (["--reload", "--reload-dir", "/no/such/dir"], "'/no/such/dir' is not a directory"),
    ],
)
def test_option_rules(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The entry does not exist: the options are refused before anything imports it.
    assert message in refused([*argv, "no.such.module:app"], capsys)


def test_reload_without_watchfiles_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # import watchfiles fails
    assert "pip install 'asgiweb[reload]'" in refused(["--reload", "m:app"], capsys)


def test_workers_need_linux_reuseport(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert "needs SO_REUSEPORT load balancing (Linux)" in refused(["--workers", "2", "m:a"], capsys)


def test_an_application_attribute_is_served_as_is() -> None:
    app = cli._app_from_entry(cli._parser(), "tests.apps.upload:app", [])
    assert app is upload.app


def test_an_init_function_gets_the_extra_arguments() -> None:
    app = cli._app_from_entry(cli._parser(), "tests.apps.slow:init", ["--flag", "v"])
    assert isinstance(app, web.Application)
    assert app[slow.ARGV] == ["--flag", "v"]


def test_an_application_takes_no_extra_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli._app_from_entry(cli._parser(), "tests.apps.upload:app", ["--flag"])
    assert "unrecognized arguments: --flag (tests.apps.upload:app is an Application" in (
        capsys.readouterr().err
    )


# Each spawned worker imports this module again (about a second here): few starts.
def fail_to_start(notify: Connection) -> None:
    """A worker that exits before it serves."""
    raise SystemExit(3)


def usage_error(notify: Connection) -> None:
    raise SystemExit(2)


def test_supervisor_gives_up_on_workers_that_never_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(supervisor, "FIRST_DELAY", 0.01)
    monkeypatch.setattr(supervisor, "MAX_QUICK_EXITS", 2)
    with caplog.at_level(logging.INFO, "asgiweb.supervisor"):
        status = supervisor.Supervisor(fail_to_start).run()
    assert status == 1
    restarts = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(restarts) == 1, caplog.text
    assert "exited with code 3; restarting it in 0.01 s" in restarts[0]
    assert "exited with code 3 (2 failed starts in a row); giving up" in caplog.text


def test_supervisor_stops_at_a_usage_error(caplog: pytest.LogCaptureFixture) -> None:
    # Starting the same bad command line again cannot help: no restart, status 2.
    with caplog.at_level(logging.INFO, "asgiweb.supervisor"):
        assert supervisor.Supervisor(usage_error).run() == 2
    assert "restarting" not in caplog.text
    assert "exited with code 2 (1 failed starts in a row); giving up" in caplog.text


def test_supervisor_arguments() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        supervisor.Supervisor(usage_error, workers=0)
    with pytest.raises(ValueError, match="exactly one worker"):
        supervisor.Supervisor(usage_error, workers=2, reload_dirs=[Path(".")])
