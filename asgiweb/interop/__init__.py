"""asgiweb beside other Python web stacks: foreign ASGI applications mounted under a
prefix (``asgi_app``), WSGI applications through them (``wsgi``), and asgiweb itself
mounted under another ASGI host (``hosted``).

The public names are re-exported by :mod:`asgiweb.mount`, the documented import path.
"""
