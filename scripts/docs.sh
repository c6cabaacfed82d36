#!/usr/bin/env bash
# Set up a virtualenv with the docs extra and build the documentation site into site/.
#   bash scripts/docs.sh          build (strict: a warning is an error) and say where it is
#   bash scripts/docs.sh serve    serve it at http://127.0.0.1:8000, rebuilding on change
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-build}" in
    build | serve) ;;
    *) echo "usage: bash scripts/docs.sh [serve]" >&2; exit 2 ;;
esac
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[docs]'
# Material prints a notice about its successor on every run; the build output is ours.
export NO_MKDOCS_2_WARNING=1
if [ "${1:-build}" = serve ]; then
    exec .venv/bin/mkdocs serve --strict --dev-addr 127.0.0.1:8000
fi
.venv/bin/mkdocs build --strict --site-dir site
echo "Documentation built: open $(pwd)/site/index.html in a browser," \
    "or run 'bash scripts/docs.sh serve' for http://127.0.0.1:8000/"
