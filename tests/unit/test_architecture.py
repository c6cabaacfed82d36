"""The import contract between the packages, read from the source with ``ast`` (nothing is
imported):

- the core (``asgiweb``) never imports a server (``native_server``, uvicorn, hypercorn,
  gunicorn), at any level, except in the documented facades listed in ``CORE_FACADES``;
- ``native_server.wire`` is sans-IO: it never imports ``asyncio``, nor a ``native_server``
  module outside ``wire``;
- there is no import cycle at module level among the ``asgiweb`` and ``native_server``
  modules (imports inside functions and under ``if TYPE_CHECKING:`` do not count).

Each checker is also run on a small synthetic tree holding one violation, to prove it can
fail.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("asgiweb", "native_server")

#: What the core must not import: the servers that run it.
SERVERS = ("native_server", "uvicorn", "hypercorn", "gunicorn")

#: The core modules that may import a server anyway, each with its reason. Every entry must
#: still import one (a stale entry fails), so the list can only shrink.
CORE_FACADES = {
    # aiohttp's ``web`` namespace: run_app, AppRunner, the sites and the CLI are the native
    # server's, re-exported under their documented path.
    "asgiweb/web.py": "native_server",
    # ``--worker-class asgiweb.worker.GunicornWebWorker``: re-exports native_server.worker
    # (which imports gunicorn), as aiohttp.worker imports its server.
    "asgiweb/worker.py": "native_server",
}
# Not exceptions, because they import no server themselves: asgiweb/testing/servers.py and
# asgiweb/test_utils.py reach the native server through ``asgiweb.web`` and the ASGI servers
# through ``asgi_test_servers`` (uvicorn and hypercorn are imported there, when a server
# starts); asgiweb/aiohttp_compat.py names "native_server.worker" as a string, resolved
# lazily when ``aiohttp.worker`` is imported.

WIRE = "native_server.wire"
WIRE_FORBIDDEN = ("asyncio",)


@dataclass(frozen=True)
class Import:
    """One imported module: where, and whether it runs when the module is imported."""

    target: str
    path: str  # relative to the root, with "/"
    line: int
    text: str
    module_level: bool  # not in a function, not under ``if TYPE_CHECKING:``


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def collect_modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Module name -> source file, for every module of ``packages`` under ``root``."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            modules[_module_name(root, path)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve_from(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (before its imported names)."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]
) -> Iterator[str]:
    """The modules an import statement imports: ``from p import name`` names the
    submodule ``p.name`` when there is one, else ``p`` itself. The parent packages that
    Python initializes on the way (``p`` for ``p.name``) are not counted, as import graphs
    usually don't: every submodule would otherwise be in a cycle with a package
    ``__init__`` that re-exports it."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    base = _resolve_from(module, is_package, node)
    for alias in node.names:
        submodule = f"{base}.{alias.name}" if base else alias.name
        yield submodule if submodule in modules else base


def _dynamic_target(node: ast.Call) -> str | None:
    """``importlib.import_module("x")`` or ``__import__("x")`` with a literal absolute name."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        if not first.value.startswith("."):
            return first.value
    return None


def imports_of(root: Path, module: str, path: Path, modules: set[str]) -> list[Import]:
    """Every import in a module, at any level, each marked module-level or not."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    rel = path.relative_to(root).as_posix()
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, module_level: bool) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            module_level = False
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, module_level)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            text = lines[node.lineno - 1].strip()
            for imported in dict.fromkeys(_targets(node, module, is_package, modules)):
                found.append(Import(imported, rel, node.lineno, text, module_level))
        elif isinstance(node, ast.Call):
            dynamic = _dynamic_target(node)
            if dynamic is not None:
                text = lines[node.lineno - 1].strip()
                found.append(Import(dynamic, rel, node.lineno, text, module_level))
        for inner in ast.iter_child_nodes(node):
            visit(inner, module_level)

    visit(ast.parse(source, filename=str(path)), True)
    return found


def all_imports(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, list[Import]]:
    modules = collect_modules(root, packages)
    names = set(modules)
    return {name: imports_of(root, name, path, names) for name, path in modules.items()}


def _within(target: str, packages: tuple[str, ...] | str) -> bool:
    if isinstance(packages, str):
        packages = (packages,)
    return any(target == p or target.startswith(p + ".") for p in packages)


def _describe(imp: Import) -> str:
    return f"{imp.path}:{imp.line}: {imp.text}"


# The checkers: each returns its violations, one line each.


def core_server_imports(root: Path, facades: dict[str, str] = CORE_FACADES) -> list[str]:
    """Imports of a server by a core module that is not a listed facade; and facades
    that import no server any more."""
    violations = []
    importing_facades = set()
    for name, imports in all_imports(root).items():
        if not _within(name, "asgiweb"):
            continue
        for imp in imports:
            if not _within(imp.target, SERVERS):
                continue
            if imp.path in facades:
                importing_facades.add(imp.path)
            else:
                violations.append(_describe(imp))
    violations += [
        f"{path}: listed as a facade but imports no server" for path in facades
        if path not in importing_facades
    ]  # fmt: skip
    return violations


def wire_imports(root: Path) -> list[str]:
    """Imports of asyncio, or of native_server outside wire, by a wire module."""
    violations = []
    for name, imports in all_imports(root).items():
        if not _within(name, WIRE):
            continue
        for imp in imports:
            if _within(imp.target, WIRE_FORBIDDEN) or (
                _within(imp.target, "native_server") and not _within(imp.target, WIRE)
            ):
                violations.append(_describe(imp))
    return violations


def module_level_cycles(root: Path) -> list[str]:
    """The import cycles among the packages' modules, counting module-level imports only.

    Each cycle is listed as ``a -> b -> a`` followed by the import lines making it; every
    import that lies on a cycle appears in at least one listed cycle.
    """
    imports = all_imports(root)
    graph: dict[str, dict[str, list[Import]]] = {name: {} for name in imports}
    for name, found in imports.items():
        for imp in found:
            if imp.module_level and imp.target in graph:
                graph[name].setdefault(imp.target, []).append(imp)

    cycles: dict[tuple[str, ...], str] = {}
    for source, edges in graph.items():
        for target in edges:
            path = _shortest_path(graph, target, source)
            if path is None:
                continue
            cycle = [source, *path]  # source -> target ... -> source
            ring = cycle[:-1]
            start = ring.index(min(ring))
            key = tuple(ring[start:] + ring[:start])
            if key in cycles:
                continue
            steps = [" -> ".join([*key, key[0]])]
            for a, b in zip(key, [*key[1:], key[0]], strict=True):
                steps += [f"    {_describe(imp)}" for imp in graph[a][b]]
            cycles[key] = "\n".join(steps)
    return [cycles[key] for key in sorted(cycles)]


def _shortest_path(graph: dict[str, dict[str, list[Import]]], start: str, goal: str) -> (
    list[str] | None
):  # fmt: skip
    """Modules from ``start`` to ``goal`` following the edges (both included), or None."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while (before := previous[path[-1]]) is not None:
                path.append(before)
            return path[::-1]
        for following in graph.get(node, {}):
            if following not in previous:
                previous[following] = node
                queue.append(following)
    return None


# The contract, on the real tree.


def test_the_core_imports_no_server_outside_its_facades() -> None:
    assert core_server_imports(ROOT) == []


def test_the_wire_code_is_sans_io() -> None:
    assert wire_imports(ROOT) == []


def test_no_import_cycle_at_module_level() -> None:
    cycles = module_level_cycles(ROOT)
    assert not cycles, "import cycles at module level:\n" + "\n".join(cycles)


def test_the_checkers_see_the_real_modules() -> None:
    """A checker reading nothing would pass everything."""
    modules = collect_modules(ROOT)
    assert {"asgiweb.web", "asgiweb.app", "native_server.wire.parser"} <= modules.keys()
    imports = all_imports(ROOT)
    assert any(i.target == "native_server" for i in imports["asgiweb.web"])
    assert any(i.target == "asgiweb.transport" for i in imports["native_server.wire.parser"])


# Each checker can fail: a synthetic tree with one violation.


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for package in PACKAGES:
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").touch()
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(source, encoding="utf-8")
    return root


CLEAN_TREE = {
    "asgiweb/web.py": "from native_server import run_app\n",
    "asgiweb/worker.py": "from native_server.worker import Worker\n",
    "asgiweb/app.py": "from . import helpers\n",
    "asgiweb/helpers.py": "import os\n",
    "native_server/worker.py": "import gunicorn\n",
    "native_server/wire/parser.py": "from asgiweb.helpers import x\nfrom . import codec\n",
    "native_server/wire/codec.py": "import zlib\n",
}


def test_a_clean_synthetic_tree_passes(tmp_path: Path) -> None:
    root = write_tree(tmp_path, CLEAN_TREE)
    assert core_server_imports(root) == []
    assert wire_imports(root) == []
    assert module_level_cycles(root) == []


@pytest.mark.parametrize(
    "source",
    [
        "import native_server\n",
        "from native_server.run import run_app\n",
        "def f():\n    import uvicorn\n",
        "class C:\n    def m(self):\n        from hypercorn.asyncio import serve\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import gunicorn.app\n",
        "try:\n    import uvicorn\nexcept ImportError:\n    pass\n",
        "import importlib\nm = importlib.import_module('native_server.cli')\n",
    ],
)
def test_a_core_module_importing_a_server_is_reported(tmp_path: Path, source: str) -> None:
    root = write_tree(tmp_path, {**CLEAN_TREE, "asgiweb/routing/bad.py": source})
    [violation] = core_server_imports(root)
    assert violation.startswith("asgiweb/routing/bad.py:")


def test_a_stale_facade_is_reported(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {**CLEAN_TREE, "asgiweb/worker.py": "import os\n"})
    assert core_server_imports(root) == [
        "asgiweb/worker.py: listed as a facade but imports no server"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio\n",
        "from asyncio import Transport\n",
        "def f():\n    import asyncio.streams\n",
        "from .. import protocol\n",
        "from ..server import Server\n",
        "import native_server.run\n",
    ],
)
def test_a_wire_module_doing_io_is_reported(tmp_path: Path, source: str) -> None:
    root = write_tree(
        tmp_path, {**CLEAN_TREE, "native_server/protocol.py": "", "native_server/wire/x.py": source}
    )
    [violation] = wire_imports(root)
    assert violation.startswith("native_server/wire/x.py:")


def test_a_two_module_cycle_is_reported(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            **CLEAN_TREE,
            "asgiweb/a.py": "from .b import thing\n",
            "asgiweb/b.py": "import os\n\nfrom asgiweb import a\n",
        },
    )
    assert module_level_cycles(root) == [
        "asgiweb.a -> asgiweb.b -> asgiweb.a\n"
        "    asgiweb/a.py:1: from .b import thing\n"
        "    asgiweb/b.py:3: from asgiweb import a"
    ]


def test_a_cycle_across_packages_and_through_a_package_is_reported(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            **CLEAN_TREE,
            "asgiweb/helpers.py": "from native_server.wire import parser\n",
            "native_server/wire/__init__.py": "from .parser import x\n",
        },
    )
    assert module_level_cycles(root) == [
        "asgiweb.helpers -> native_server.wire.parser -> asgiweb.helpers\n"
        "    asgiweb/helpers.py:1: from native_server.wire import parser\n"
        "    native_server/wire/parser.py:1: from asgiweb.helpers import x"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "def f():\n    from . import a\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n",
        "import typing\nif typing.TYPE_CHECKING:\n    from .a import A\n",
    ],
)
def test_an_import_that_does_not_run_at_import_time_makes_no_cycle(
    tmp_path: Path, source: str
) -> None:
    root = write_tree(
        tmp_path, {**CLEAN_TREE, "asgiweb/a.py": "from . import b\n", "asgiweb/b.py": source}
    )
    assert module_level_cycles(root) == []


def test_the_else_of_type_checking_and_class_bodies_run_at_import_time(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            **CLEAN_TREE,
            "asgiweb/a.py": "from . import b\n",
            "asgiweb/b.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    pass\nelse:\n    from . import c\n",
            "asgiweb/c.py": "class C:\n    from .a import x\n",
        },
    )
    [cycle] = module_level_cycles(root)
    assert cycle.startswith("asgiweb.a -> asgiweb.b -> asgiweb.c -> asgiweb.a\n")
