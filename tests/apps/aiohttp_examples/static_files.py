#!/usr/bin/env python3
# From aiohttp 3.13.3, examples/static_files.py
# Copyright aio-libs contributors; Apache License 2.0 (see LICENSE.txt here).
# Ported to asgiweb: the `web` import, and a __main__ guard around what runs the
# server, are the only changes.
# ruff: noqa
import pathlib

from asgiweb import web

app = web.Application()
app.router.add_static("/", pathlib.Path(__file__).parent, show_index=True)

if __name__ == "__main__":
    web.run_app(app)
