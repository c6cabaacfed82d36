"""MkDocs hooks: text written for the repository or for Sphinx reads well on the site.

Two kinds of link are right when the Markdown is read in the repository (GitHub, an
editor) but have no target among the site's pages, which `mkdocs build --strict` reports
as errors:

* a link from a page to a file outside docs/, such as the generated
  docs/benchmarks/results.md's link to benchmarks/README.md: it becomes the link text
  and the file's repository path;
* a link in CHANGELOG.md, which docs/changelog.md includes with pymdownx.snippets: it is
  written from the repository root (``docs/testing.md``), so ``docs/`` is dropped.

The docstrings use Sphinx roles (``:class:`Application```), which mkdocstrings prints as
they are: the role is dropped and the name kept as code, ``~`` shortening it as in Sphinx.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor

# [text](target#anchor) with a relative target that climbs out of its folder.
_UP_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(((?:\.\./)+[^)\s#]+)(#[^)\s]*)?\)")
# ](docs/...): a link written from the repository root, in an included root file.
_ROOT_DOCS_LINK = re.compile(r"\]\(docs/")
# A Sphinx role as mkdocstrings renders it: the role's text before the code element.
_ROLE = re.compile(r":(?:class|meth|func|attr|data|exc|mod|obj):<code>(~?)([^<]*)</code>")


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Replace each link that leaves docs/ by its text and the file's repository path."""
    page_dir = posixpath.dirname(page.file.src_uri)

    def plain(match: re.Match[str]) -> str:
        text, target = match.group(1), match.group(2)
        resolved = posixpath.normpath(posixpath.join("docs", page_dir, target))
        if resolved.startswith("docs/"):
            return match.group(0)  # a page of the site: MkDocs checks it
        if text.strip("`") == resolved:
            return f"`{resolved}`"
        return f"{text} (`{resolved}` in the repository)"

    return _UP_LINK.sub(plain, markdown)


class _RootLinks(Preprocessor):
    """After snippets are included: ``](docs/x.md)`` from a root file becomes ``](x.md)``."""

    def run(self, lines: list[str]) -> list[str]:
        return [_ROOT_DOCS_LINK.sub("](", line) for line in lines]


class _RootLinksExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 (Markdown's API)
        # pymdownx.snippets includes files at priority 32; run after it.
        md.preprocessors.register(_RootLinks(md), "asgiweb_root_links", 31)


def on_config(config: Any, **_: Any) -> Any:
    """Add the root-link rewriting to every page's Markdown."""
    config.markdown_extensions.append(_RootLinksExtension())
    return config


def on_page_content(html: str, **_: Any) -> str:
    """Drop the Sphinx roles the API reference's docstrings carry."""

    def code(match: re.Match[str]) -> str:
        name = match.group(2).rsplit(".", 1)[-1] if match.group(1) else match.group(2)
        return f"<code>{name}</code>"

    return _ROLE.sub(code, html)
