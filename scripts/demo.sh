#!/usr/bin/env bash
# Set up a virtualenv and serve the demo app on the native server at http://127.0.0.1:8080.
# The venv also gets uvicorn (with its WebSocket library) and hypercorn, so the same app
# can then be served by `.venv/bin/uvicorn examples.hello:app` or `.venv/bin/hypercorn ...`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[uvicorn,hypercorn]'
exec .venv/bin/python examples/hello.py
