"""asgiweb's own tests. A regular package, so that `tests.apps` is ours even where an
installed distribution (aiohttp-security does) put a top-level `tests` package into
site-packages."""
