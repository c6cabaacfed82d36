"""The documentation site's structure: the API reference covers ``asgiweb.web``, the nav
covers docs/; and scripts/compat_table.py, which renders docs/compatibility.md's table.

The site itself is built by ``mkdocs build --strict`` in scripts/test.sh (too slow for a
unit test); these checks name the page or the public name that is missing.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import inspect
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from asgiweb import web

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# `::: asgiweb.web.Name`, the mkdocstrings directive, at the start of a line.
DIRECTIVE = re.compile(r"^:::\s+(\S+)\s*$", re.M)


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    return config


def _nav_files(nav: Any) -> Iterator[str]:
    """Every page path in the nav, nested sections included; external links skipped."""
    if isinstance(nav, str):
        if "://" not in nav:
            yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from _nav_files(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from _nav_files(value)


def _excluded(relative: str, patterns: str) -> bool:
    """Whether ``exclude_docs`` (gitignore-style lines) leaves the file out of the site."""
    for pattern in filter(None, (line.strip() for line in patterns.splitlines())):
        if pattern.endswith("/") and ("/" + relative).startswith(pattern.rstrip("/") + "/"):
            return True
        if fnmatch.fnmatch(relative, pattern.lstrip("/")):
            return True
    return False


def test_every_public_name_is_documented_once_in_the_reference() -> None:
    documented = Counter(
        name
        for page in sorted((DOCS / "reference").glob("*.md"))
        for name in DIRECTIVE.findall(page.read_text())
    )
    expected = {f"asgiweb.web.{name}" for name in web.__all__}
    missing = sorted(expected - set(documented))
    assert not missing, f"public names with no `::: name` in docs/reference/: {missing}"
    twice = sorted(name for name, count in documented.items() if count > 1)
    assert not twice, f"documented more than once in docs/reference/: {twice}"
    stray = sorted(set(documented) - expected)
    assert not stray, f"docs/reference/ documents names not in asgiweb.web.__all__: {stray}"


def _own_docstring(obj: object) -> str | None:
    if inspect.isclass(obj):
        # Read from the class itself: inspect.getdoc would fall back to a base's.
        doc: str | None = vars(obj).get("__doc__")
        return doc
    return obj.__doc__ if inspect.isfunction(obj) else "(not a class or function)"


def test_every_public_class_and_function_has_its_own_docstring() -> None:
    undocumented = [
        name for name in web.__all__ if not (_own_docstring(getattr(web, name)) or "").strip()
    ]
    assert not undocumented, f"public names without a docstring: {undocumented}"


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    config = _config()
    in_nav = list(_nav_files(config["nav"]))
    assert len(in_nav) == len(set(in_nav)), "a page appears twice in mkdocs.yml's nav"
    pages = {
        path.relative_to(DOCS).as_posix()
        for path in DOCS.rglob("*.md")
        if not _excluded(path.relative_to(DOCS).as_posix(), config.get("exclude_docs", ""))
    }
    absent = sorted(set(in_nav) - pages)
    assert not absent, f"nav entries with no file under docs/: {absent}"
    orphans = sorted(pages - set(in_nav))
    assert not orphans, f"pages under docs/ missing from mkdocs.yml's nav: {orphans}"


def test_the_changelog_page_includes_the_root_changelog() -> None:
    # One source: the page pulls CHANGELOG.md in (pymdownx.snippets) rather than copy it.
    assert '--8<-- "CHANGELOG.md"' in (DOCS / "changelog.md").read_text()


def test_compat_table_counts_passes_per_file_and_path(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("compat_table", ROOT / "scripts/compat_table.py")
    assert spec is not None and spec.loader is not None
    compat_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compat_table)
    # test_b.py ran on one path only: the other shows a dash, not 0/0.
    outcomes = {
        "native": "tests/test_a.py::t1\tpassed\t\ntests/test_a.py::t2\tfailed\tboom\n"
        "tests/test_b.py::t3[x]\tpassed\t\n",
        "asgi": "tests/test_a.py::t1\terror\tteardown\ntests/test_a.py::t2\tpassed\t\n",
    }
    for path, text in outcomes.items():
        (tmp_path / path).mkdir()
        (tmp_path / path / "outcomes.tsv").write_text(text)
    table = compat_table.render(tmp_path / "native", tmp_path / "asgi").splitlines()
    assert table[2:] == [
        "| `test_a.py` | 1/2 | 1/2 |",
        "| `test_b.py` | 1/1 | — |",
        "| **all** | **2/3 (66.7%)** | **1/2 (50.0%)** |",
    ]
