"""Layers point one way: core <- backends <- staging <- processing <- adapters.

A module may import from its own layer and the layers below, never above, so a new server is
one module in ``backends`` and nothing in the core learns about EODAG, the CLI or processing.
Imports are read from the source (including those inside functions), not from a run.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "eodag_peps_plus"

#: Top-level module or folder of the package -> its layer (lower = more basic).
LAYERS: dict[str, int] = {
    **dict.fromkeys(
        ["<root>", "_lazy", "exceptions", "files", "http_io", "archive_reply", "query", "product",
         "vocabulary", "stac", "sqlite_db", "logs",
         "collection_names", "geometry", "schemas", "extras", "stac_params"],
        0,
    ),
    "backends": 1,
    "staging": 2,
    "processing": 3,
    # Fallback sources search catalogues and stage from archives: above both.
    "fallback": 3,
    # The sandbox emulates servers: it may use the core, and nothing but adapters use it.
    "sandbox": 1,
    **dict.fromkeys(
        ["eodag_plugins", "eodag_support", "eodag_source", "client", "item_search", "cli", "report", "legacy",
         "__main__", "discovery", "collection_search", "stac_server"],
        4,
    ),
}  # fmt: skip


def _imports(path: Path) -> set[str]:
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                found.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("eodag_peps_plus")}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] != "__init__" else "<root>"


def graph() -> dict[str, set[str]]:
    """Top-level module -> top-level modules it imports."""
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        source = _top(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        for target in _imports(path):
            if _top(target) != source:
                edges.setdefault(source, set()).add(_top(target))
    return edges


def test_every_module_has_a_layer() -> None:
    modules = {_top(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts))
               for p in PACKAGE.rglob("*.py")}  # fmt: skip
    assert modules <= set(LAYERS), f"give these a layer: {sorted(modules - set(LAYERS))}"


def test_imports_point_down() -> None:
    upward = [
        f"{source} (layer {LAYERS[source]}) imports {target} (layer {LAYERS[target]})"
        for source, targets in graph().items()
        for target in targets
        if source != "<root>"  # the package's façade names the main classes of every layer
        and (
            LAYERS.get(target, 99) > LAYERS.get(source, -1)
            or (target == "sandbox" and LAYERS[source] < 4 and source != "sandbox")
        )
    ]
    assert not upward, "imports that point up:\n" + "\n".join(sorted(upward))


def test_staging_sees_archives_only() -> None:
    """Staging depends on the :class:`Archive` role alone, so a batch can draw from several
    archives (fallback sources, MAJA results) that are not catalogues or accounts."""
    wrong = []
    for path in (PACKAGE / "staging").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and "backends" in (node.module or "").split("."):
                names = {alias.name for alias in node.names}
                if node.module not in ("backends.base", "eodag_peps_plus.backends.base") or (
                    names - {"Archive"}
                ):
                    wrong.append(f"{path.name}: from {node.module} import {', '.join(names)}")
            elif isinstance(node, ast.Import) and any(
                ".backends" in alias.name for alias in node.names
            ):
                wrong.append(f"{path.name}: import {node.names[0].name}")
    assert not wrong, "staging may import Archive only from the backends:\n" + "\n".join(wrong)


# -- inside a layer: no cycle between modules, no private name shared ------------------------------
def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Nodes under ``if TYPE_CHECKING:``: annotations, not imports at run time."""
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for child in node.body
        for inner in ast.walk(child)
    }


def _imported(path: Path) -> list[tuple[str, str | None, int]]:
    """(module, name imported from it or None, line) for every import of a package module;
    ``from . import x`` names module ``x`` when there is one."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    typing_only = _type_checking_only(tree)
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                child = f"{target}.{alias.name}"
                found.append((child, None, node.lineno) if child in MODULES else
                             (target, alias.name, node.lineno))  # fmt: skip
        elif isinstance(node, ast.Import):
            found.extend((alias.name, None, node.lineno) for alias in node.names)
    return [entry for entry in found if entry[0] in MODULES]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


#: Cycles known and explained, to be split (each one is a debt with its reason, not a habit).
KNOWN_CYCLES = {
    # run_transfer (transfer) dispatches to MemberFetch (members), which is built on the
    # transfer's pieces; the dispatch belongs above both.
    ("eodag_peps_plus.staging.members", "eodag_peps_plus.staging.transfer"),
}


def test_no_import_cycle_between_modules() -> None:
    """Two modules that import each other (even inside a function) are one idea in two files,
    or a lower one that learned about a higher one. Imports under ``TYPE_CHECKING`` are
    annotations, not run: a service may name the sandbox that owns it."""
    edges = {
        name: {target for target, _, _ in _imported(path) if target != name}
        for name, path in MODULES.items()
    }
    cycles = [c for c in _cycles(edges) if tuple(c) not in KNOWN_CYCLES]
    assert not cycles, "modules that import each other:\n" + "\n".join(map(" <-> ".join, cycles))


def test_no_private_name_crosses_modules() -> None:
    """A name used by two modules is part of the module's interface: public, in ``__all__``."""
    crossings = []
    for name, path in MODULES.items():
        for target, imported, line in _imported(path):
            if imported and imported.startswith("_") and not imported.startswith("__"):
                crossings.append(f"{name}:{line} imports {target}.{imported}")
        modules = {  # local name -> package module imported under it (``from . import checks``)
            alias.asname or alias.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
            if any(target.endswith(f".{alias.name}") for target, imported, _ in _imported(path)
                   if imported is None)
        }  # fmt: skip
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                crossings.append(f"{name}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not crossings, "private names used across modules:\n" + "\n".join(sorted(crossings))
