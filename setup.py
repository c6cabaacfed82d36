"""Builds the optional C accelerator (native_server/wire/_speedups.c); all other metadata
lives in pyproject.toml.

The extension is optional in the way multidict's and aiohttp's are: a machine without a C
compiler or Python headers still installs asgiweb, pure Python, and so does one with
``ASGIWEB_NO_EXTENSIONS=1`` set at install time. The same variable at run time makes an
installed accelerator go unused (native_server/wire/accel.py).
"""

import os

from setuptools import Extension, setup

extensions = []
# The rule native_server/wire/accel.py applies at run time: unset, "" or "0" means build.
if os.environ.get("ASGIWEB_NO_EXTENSIONS", "") in ("", "0"):
    extensions.append(
        Extension(
            "native_server.wire._speedups",
            ["native_server/wire/_speedups.c"],
            # A failed compile skips the extension instead of failing the install.
            optional=True,
        )
    )

setup(ext_modules=extensions)
