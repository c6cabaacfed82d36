"""Names that moved out of response.py, request.py and multipart.py stay importable from
their old modules, as the very objects of their new homes; each module imports first."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MOVED = [
    # (old module, new home, names)
    ("asgiweb.response", "asgiweb.compression", ["ContentCoding", "MAX_SYNC_CHUNK_SIZE"]),
    ("asgiweb.response", "asgiweb.http.response_headers", ["check_headers"]),
    ("asgiweb.response", "asgiweb.response_head", ["SERVER_SOFTWARE", "SentHeaders"]),
    ("asgiweb.response", "asgiweb.body_sources", ["STREAM_CHUNK_SIZE"]),
    (
        "asgiweb.multipart",
        "asgiweb.forms",
        ["DEFAULT_MAX_FIELDS", "FileField", "MIN_HEADER_BUDGET", "SPOOL_MAX_SIZE", "read_form"],
    ),
    (
        "asgiweb.request",
        "asgiweb.http.request_headers",
        ["ETag", "check_etag_value", "parse_etag", "parse_forwarded"],
    ),
    ("asgiweb.web", "asgiweb.forms", ["FileField"]),
    ("asgiweb.web", "asgiweb.compression", ["ContentCoding"]),
]


@pytest.mark.parametrize(("old", "home", "names"), MOVED)
def test_moved_names_are_the_new_homes_objects(old: str, home: str, names: list[str]) -> None:
    old_module = importlib.import_module(old)
    home_module = importlib.import_module(home)
    for name in names:
        assert getattr(old_module, name) is getattr(home_module, name), name


def test_multipart_star_import_still_gives_the_form_reader() -> None:
    namespace: dict[str, object] = {}
    exec("from asgiweb.multipart import *", namespace)
    assert namespace["read_form"] is importlib.import_module("asgiweb.forms").read_form


def test_multipart_refuses_unknown_names() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        importlib.import_module("asgiweb.multipart").nothing  # noqa: B018


SPLIT_MODULES = [
    "asgiweb.body_sources",
    "asgiweb.compression",
    "asgiweb.exceptions",
    "asgiweb.forms",
    "asgiweb.multipart",
    "asgiweb.multipart_buffer",
    "asgiweb.request",
    "asgiweb.response",
    "asgiweb.response_head",
    "asgiweb.websocket",
    "asgiweb.ws_heartbeat",
    "asgiweb.ws_upgrade",
]


def test_each_module_imports_first() -> None:
    # A module-level import cycle shows as an ImportError for some first import only.
    script = (
        "import importlib, sys\n"
        f"for name in {SPLIT_MODULES!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'asgiweb']:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
