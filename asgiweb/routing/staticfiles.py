"""PrefixResource and StaticResource: every path under a prefix, and the files of a directory."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from yarl import URL

from .. import hdrs
from ..exceptions import HTTPForbidden, HTTPNotFound
from ..fileresponse import FileResponse
from ..response import Response
from .resources import (
    _SEGMENT_SAFE,
    AbstractResource,
    requote_path,
    route_path,
    unquote_safe,
)
from .routes import AbstractRoute, ExpectHandler, ResourceRoute, UrlMappingMatchInfo

if TYPE_CHECKING:
    from ..request import Request
    from ..response import StreamResponse

__all__ = ["PrefixResource", "StaticResource"]

# A file name in a URL keeps its "/" separators; everything else a segment would escape.
_FILENAME_SAFE = _SEGMENT_SAFE + "/"
# Never part of a name we serve: NUL ends a C string, "\\" separates paths on Windows.
_FORBIDDEN_CHARS = ("\x00", "\\")
_HASH_BLOCK = 1 << 16


class PrefixResource(AbstractResource):
    """A resource owning every path that starts with ``prefix`` followed by ``/``."""

    def __init__(self, prefix: str, *, name: str | None = None) -> None:
        _check_prefix(prefix)
        super().__init__(name=name)
        self._set_prefix(prefix)

    def _set_prefix(self, prefix: str) -> None:
        # _prefix is the literal text requests are matched against; canonical, the URL form.
        self._prefix = prefix
        self._canonical = requote_path(prefix)

    @property
    def canonical(self) -> str:
        return self._canonical

    def add_prefix(self, prefix: str) -> None:
        _check_prefix(prefix)
        self._set_prefix(prefix + self._prefix)

    def raw_match(self, path: str) -> bool:
        return False

    def index_key(self) -> str:
        return self._prefix or "/"

    def get_info(self) -> dict[str, Any]:
        return {"prefix": self._prefix}

    def _rest(self, path: str) -> str | None:
        """What follows the prefix in ``path``, or None when ``path`` is not under it."""
        prefix = self._prefix
        if path == prefix:
            return ""
        if path.startswith(prefix + "/"):
            return path[len(prefix) + 1 :]
        return None


def _check_prefix(prefix: str) -> None:
    if prefix and not prefix.startswith("/"):
        raise ValueError(f"prefix should start with '/': {prefix!r}")
    if prefix.endswith("/") and prefix != "/":
        raise ValueError(f"prefix should not end with '/': {prefix!r}")


class StaticResource(PrefixResource):
    """Serves the files under ``directory`` (GET and HEAD) at ``prefix``."""

    VERSION_KEY = "v"

    def __init__(
        self,
        prefix: str,
        directory: str | os.PathLike[str],
        *,
        name: str | None = None,
        expect_handler: ExpectHandler | None = None,
        chunk_size: int = 256 * 1024,
        show_index: bool = False,
        follow_symlinks: bool = False,
        append_version: bool = False,
    ) -> None:
        super().__init__("" if prefix == "/" else prefix, name=name)
        try:
            root = Path(directory).expanduser().resolve(strict=True)
        except FileNotFoundError as exc:
            raise ValueError(f"'{directory}' does not exist") from exc
        if not root.is_dir():
            raise ValueError(f"'{directory}' is not a directory")
        self._directory = root
        self._root = str(root)
        self._chunk_size = chunk_size
        self._show_index = show_index
        self._follow_symlinks = follow_symlinks
        self._append_version = append_version
        self._expect_handler = expect_handler
        self._routes: dict[str, AbstractRoute] = {
            method: ResourceRoute(
                method, self._handle, expect_handler=expect_handler, resource=self
            )
            for method in (hdrs.METH_GET, hdrs.METH_HEAD)
        }

    # -- the resource ------------------------------------------------------------------------
    def set_options_route(self, handler: Any) -> None:
        """Answer OPTIONS with ``handler`` (for CORS preflight, say)."""
        if hdrs.METH_OPTIONS in self._routes:
            raise RuntimeError("OPTIONS route was set already")
        self._routes[hdrs.METH_OPTIONS] = ResourceRoute(
            hdrs.METH_OPTIONS, handler, expect_handler=self._expect_handler, resource=self
        )

    def get_info(self) -> dict[str, Any]:
        return {"directory": self._directory, "prefix": self._prefix, "routes": self._routes}

    async def resolve(self, request: Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        path = route_path(request)
        rest = self._rest(path)
        # A path whose dot segments lead out of the prefix is not ours at all.
        if rest is None or self._rest(posixpath.normpath(path)) is None:
            return None, set()
        allowed = set(self._routes)
        route = self._routes.get(request.method)
        if route is None:
            return None, allowed
        # The router keeps "%2F" encoded so it cannot split a segment; here it is a "/"
        # like any other, and _locate() judges the whole decoded name.
        return UrlMappingMatchInfo({"filename": unquote_safe(rest)}, route), allowed

    def url_for(  # type: ignore[override]
        self, *, filename: str | os.PathLike[str], append_version: bool | None = None
    ) -> URL:
        """The URL of ``filename`` under the prefix, with ``?v=<hash>`` if asked and found."""
        name = os.fspath(filename).replace(os.sep, "/").lstrip("/")
        # surrogateescape: a file name that is not UTF-8 is linked by its very bytes.
        quoted = quote(name.encode("utf-8", "surrogateescape"), safe=_FILENAME_SAFE)
        url = URL.build(path=f"{self.canonical}/{quoted}", encoded=True)
        if append_version is None:
            append_version = self._append_version
        if append_version:
            version = self._file_version(name)
            if version is not None:
                url = url.with_query({self.VERSION_KEY: version})
        return url

    def _file_version(self, name: str) -> str | None:
        """The URL-safe base64 SHA-256 of the file's content; None if it is not servable."""
        path = self._locate(name)
        if path is None or not os.path.isfile(path):
            return None
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            while block := file.read(_HASH_BLOCK):
                digest.update(block)
        return base64.urlsafe_b64encode(digest.digest()).decode("ascii")

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._routes.values())

    def __repr__(self) -> str:
        name = f"'{self.name}'" if self.name is not None else ""
        return f"<StaticResource {name} {self._prefix} -> {self._directory!r}>"

    # -- serving -------------------------------------------------------------------------------
    def _locate(self, name: str) -> str | None:
        """The file system path ``name`` leads to under the root; None if it leads elsewhere.

        Without ``follow_symlinks`` every symlink and ``..`` is resolved first, so the
        check sees where the kernel would really go. With it, ``..`` is removed
        lexically and symlinks are followed later: a symlink may lead out, ``..`` may not.
        """
        if any(char in name for char in _FORBIDDEN_CHARS) or name.startswith("/"):
            return None
        joined = os.path.join(self._root, name)
        path = os.path.normpath(joined) if self._follow_symlinks else os.path.realpath(joined)
        root = self._root
        if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
            return path
        return None

    async def _handle(self, request: Request) -> StreamResponse:
        name = request.match_info["filename"]
        loop = asyncio.get_running_loop()
        path, listing = await loop.run_in_executor(None, self._lookup, name)
        if listing is not None:
            return Response(text=listing, content_type="text/html")
        return FileResponse(path, chunk_size=self._chunk_size)

    def _lookup(self, name: str) -> tuple[str, str | None]:
        """``(real path, directory listing)`` for ``name``. Runs in a thread: it touches
        the disk. Raises 404 for a name leading outside, 403 for an unlisted directory
        or for one we may not look into."""
        path = self._locate(name)
        if path is None:
            raise HTTPNotFound()
        real = os.path.realpath(path) if self._follow_symlinks else path
        try:
            # Unlike os.path.isdir, Path.is_dir lets EACCES through: a name we may not
            # even stat is refused, not reported missing.
            if not Path(real).is_dir():
                return real, None  # a missing file is FileResponse's 404
            if not self._show_index:
                raise HTTPForbidden()
            return real, self._directory_index(path, real)
        except PermissionError:
            raise HTTPForbidden() from None

    def _directory_index(self, path: str, real: str) -> str:
        """An HTML list of the directory's entries, sorted by name, names escaped.

        ``path`` (under the root) names the directory in URLs; ``real`` is read.
        """
        relative = Path(path).relative_to(self._directory).as_posix()
        title = html.escape(_shown(f"Index of /{relative}"))
        items = []
        for entry in sorted(Path(real).iterdir(), key=lambda entry: entry.name):
            name = entry.name if relative == "." else f"{relative}/{entry.name}"
            label = entry.name + ("/" if self._lists_as_directory(entry, name) else "")
            href = self.url_for(filename=name, append_version=False)
            label = html.escape(_shown(label))
            items.append(f'<li><a href="{html.escape(str(href))}">{label}</a></li>')
        body = "\n".join(items)
        return (
            f"<html>\n<head>\n<title>{title}</title>\n</head>\n<body>\n"
            f"<h1>{title}</h1>\n<ul>\n{body}\n</ul>\n</body>\n</html>"
        )

    def _lists_as_directory(self, entry: Path, name: str) -> bool:
        """Whether the listing marks ``entry`` as a directory. A symlink we would not
        follow is not looked through: a "/" would tell that a directory exists outside."""
        if not self._follow_symlinks and entry.is_symlink() and self._locate(name) is None:
            return False
        return entry.is_dir()


def _shown(name: str) -> str:
    """``name`` as text a page can carry: bytes that are not UTF-8 (kept by the file
    system as surrogates) become U+FFFD instead of failing the whole listing."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
