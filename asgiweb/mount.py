"""Mounting foreign ASGI and WSGI applications, and absolute URLs under a host's prefix:
the documented import path (``docs/deployment.md``) of what :mod:`asgiweb.interop`
implements."""

from __future__ import annotations

from .interop.asgi_app import ASGIMountResource, mount_asgi
from .interop.hosted import absolute_url
from .interop.wsgi import mount_wsgi

__all__ = ["ASGIMountResource", "absolute_url", "mount_asgi", "mount_wsgi"]
