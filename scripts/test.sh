#!/usr/bin/env bash
# Set up a virtualenv with the test extra and run the whole suite: ruff, mypy --strict,
# the documentation site (strict: a warning fails) and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
site_dir="$(mktemp -d)"
trap 'rm -rf "$site_dir"' EXIT
# NO_MKDOCS_2_WARNING: Material's end-of-life banner is news, not a build problem.
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "$site_dir"
# Most functional tests wait on sockets and child processes: two pytest-xdist workers
# (ASGIWEB_TEST_WORKERS, 0 for none) keep both cores busy. Extra arguments go to pytest.
.venv/bin/python -m pytest -n "${ASGIWEB_TEST_WORKERS:-2}" "$@"
if [ $# -eq 0 ]; then
    # Again without the C accelerator (native_server/wire/_speedups.c), which the run above
    # used: the native server's own tests, on its pure-Python twins. (The whole suite twice
    # would not fit in five minutes; nothing outside the native server touches it.)
    ASGIWEB_NO_EXTENSIONS=1 .venv/bin/python -m pytest -n "${ASGIWEB_TEST_WORKERS:-2}" -q \
        tests/unit/native_server tests/functional/test_native_server.py \
        tests/functional/test_hostile_native_head.py tests/functional/test_websocket_native.py \
        tests/functional/test_websocket.py -k "not uvicorn and not hypercorn"
fi
