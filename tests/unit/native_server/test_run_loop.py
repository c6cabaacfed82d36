"""new_event_loop: which loop run_app and the command line pick, and the refusals."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from asgiweb import web
from native_server import cli
from native_server import run as run_mod
from native_server.run import new_event_loop

uvloop = pytest.importorskip("uvloop")

MISSING = "uvloop is not installed: pip install 'asgiweb[uvloop]'"


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASGIWEB_LOOP", raising=False)


@pytest.fixture
def no_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import uvloop` raise ImportError, as when not installed.
    monkeypatch.setitem(sys.modules, "uvloop", None)


@pytest.fixture
def policy() -> Iterator[None]:
    class Policy(asyncio.DefaultEventLoopPolicy):
        pass

    old = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(Policy())
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(old)


def loop_type(choice: str | None = None) -> type[Any]:
    loop = new_event_loop(choice)
    loop.close()
    return type(loop)


@pytest.mark.parametrize("env", ["", "auto", " UVLOOP "])
def test_auto_or_uvloop_from_the_environment_is_uvloop(
    monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    monkeypatch.setenv("ASGIWEB_LOOP", env)
    assert loop_type() is uvloop.Loop


def test_asyncio_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASGIWEB_LOOP", "asyncio")
    assert loop_type() is asyncio.SelectorEventLoop


def test_an_explicit_choice_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASGIWEB_LOOP", "uvloop")
    assert loop_type("asyncio") is asyncio.SelectorEventLoop
    monkeypatch.setenv("ASGIWEB_LOOP", "asyncio")
    assert loop_type("uvloop") is uvloop.Loop


@pytest.mark.usefixtures("policy")
def test_auto_keeps_a_policy_the_program_set() -> None:
    assert loop_type() is asyncio.SelectorEventLoop
    assert loop_type("auto") is asyncio.SelectorEventLoop
    # Asked for by name, uvloop still runs.
    assert loop_type("uvloop") is uvloop.Loop


@pytest.mark.usefixtures("no_uvloop")
def test_auto_without_uvloop_is_asyncio() -> None:
    assert loop_type() is asyncio.SelectorEventLoop


@pytest.mark.usefixtures("no_uvloop")
def test_uvloop_without_uvloop_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        RuntimeError, match=r"^uvloop is not installed: pip install 'asgiweb\[uvloop\]'$"
    ):
        new_event_loop("uvloop")
    monkeypatch.setenv("ASGIWEB_LOOP", "uvloop")
    with pytest.raises(RuntimeError, match=r"pip install 'asgiweb\[uvloop\]'"):
        new_event_loop()


def test_an_unknown_choice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASGIWEB_LOOP", "tokio")
    with pytest.raises(ValueError, match=r"ASGIWEB_LOOP='tokio'\): expected one of auto, asyncio"):
        new_event_loop()
    with pytest.raises(ValueError, match=r"unknown event loop \(trio\)"):
        new_event_loop("trio")


def test_the_choice_is_logged_once_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="asgiweb.server"):
        loop_type("asyncio")
    cls = asyncio.SelectorEventLoop
    messages = [r.getMessage() for r in caplog.records if r.name == "asgiweb.server"]
    assert messages == [f"Event loop: {cls.__module__}.{cls.__qualname__} (asyncio)"]


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.mark.usefixtures("no_uvloop")
def test_cli_loop_uvloop_without_uvloop_is_refused_before_importing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = refused(["--loop", "uvloop", "no_such_module:app"], capsys)
    assert f"error: --loop uvloop: {MISSING}" in err
    err = refused(["--loop", "uvloop", "--workers", "2", "-P", "1", "no_such_module:app"], capsys)
    assert f"error: --loop uvloop: {MISSING}" in err


@pytest.mark.usefixtures("no_uvloop")
def test_cli_asgiweb_loop_uvloop_without_uvloop_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASGIWEB_LOOP", "uvloop")
    err = refused(["no_such_module:app"], capsys)
    assert f"error: ASGIWEB_LOOP=uvloop: {MISSING}" in err


def test_cli_refuses_an_unknown_loop(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(["--loop", "trio", "no_such_module:app"], capsys)
    assert "argument --loop: invalid choice: 'trio'" in err
    monkeypatch.setenv("ASGIWEB_LOOP", "trio")
    err = refused(["no_such_module:app"], capsys)
    assert "error: ASGIWEB_LOOP='trio' is not one of auto, asyncio, uvloop" in err


@pytest.mark.parametrize(
    "choice, expected", [("asyncio", asyncio.SelectorEventLoop), ("uvloop", uvloop.Loop)]
)
def test_cli_serves_on_the_chosen_loop_with_its_signal_handlers(
    monkeypatch: pytest.MonkeyPatch, choice: str, expected: type[Any]
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_run_app(app: object, **kwargs: Any) -> None:
        kwargs["loop"].close()
        calls.append(kwargs)

    monkeypatch.setattr(cli, "run_app", fake_run_app)
    monkeypatch.setattr(cli, "_app_from_entry", lambda parser, entry, extra: object())
    monkeypatch.setenv("ASGIWEB_LOOP", "asyncio" if choice == "uvloop" else "uvloop")
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)
    with pytest.raises(SystemExit):
        cli.main(["--loop", choice, "-H", "127.0.0.1", "-P", "1", "app:app"])
    [kwargs] = calls
    assert type(kwargs["loop"]) is expected
    # The loop is the command line's own, yet Ctrl+C and SIGTERM still stop it gracefully.
    assert kwargs["handle_signals"] is True


def test_run_app_serves_on_the_loop_new_event_loop_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[asyncio.AbstractEventLoop] = []
    served_on: list[asyncio.AbstractEventLoop] = []

    def fake_new_event_loop(choice: str | None = None) -> asyncio.AbstractEventLoop:
        assert choice is None  # run_app leaves the choice to ASGIWEB_LOOP, else auto
        made.append(uvloop.new_event_loop())
        return made[-1]

    def interrupt() -> None:
        raise KeyboardInterrupt

    def print_(*args: Any) -> None:
        # Serving: stop as Ctrl+C would.
        served_on.append(asyncio.get_running_loop())
        served_on[-1].call_soon(interrupt)

    monkeypatch.setattr(run_mod, "new_event_loop", fake_new_event_loop)
    run_mod.run_app(web.Application(), host="127.0.0.1", port=0, print=print_, handle_signals=False)
    assert served_on == made
    assert made[0].is_closed()
