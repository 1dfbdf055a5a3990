"""The public surface: every module says what it exports, and the package exports the names
users need, the same way to Python (lazily) and to type checkers."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import eodag_peps_plus

PACKAGE = Path(eodag_peps_plus.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(_module_name(p) for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")


def _declared_all(path: Path) -> list[str] | None:
    for node in ast.parse(path.read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            value = ast.literal_eval(node.value)  # a literal list: type checkers read it as is
            return list(value)
    return None


def test_every_module_declares_all() -> None:
    missing = [
        _module_name(p)
        for p in PACKAGE.rglob("*.py")
        if p.name != "__main__.py" and _declared_all(p) is None
    ]
    assert not missing, f"modules without a literal __all__: {sorted(missing)}"


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    absent = [n for n in exported if not hasattr(module, n)]
    assert not absent, f"{name}.__all__ names what it does not define: {absent}"


def test_the_package_exports_the_main_names() -> None:
    for name in (
        "Client", "Downloader", "StagingOptions", "MajaJobs", "Product", "Query",
        "PepsPlusError", "BackendError", "InvalidQueryError", "AuthenticationError",
    ):  # fmt: skip
        assert name in eodag_peps_plus.__all__
        assert getattr(eodag_peps_plus, name).__name__ == name


@pytest.mark.parametrize("package", ["eodag_peps_plus", "eodag_peps_plus.staging",
                                     "eodag_peps_plus.processing"])  # fmt: skip
def test_lazy_names_are_the_names_type_checkers_see(package: str) -> None:
    """A lazy name missing from the ``TYPE_CHECKING`` imports reads as ``Any`` downstream."""
    module = importlib.import_module(package)
    tree = ast.parse(Path(module.__file__ or "").read_text())
    typed = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for child in node.body
        if isinstance(child, ast.ImportFrom)
        for alias in child.names
    }
    lazy = set(module._LAZY)
    assert lazy <= typed, f"{package}: lazy names without a typed import: {lazy - typed}"
    assert lazy <= set(module.__all__)
