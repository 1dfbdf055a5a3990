"""Lazy loading shared by the package and its registries: heavy modules (EODAG, pystac,
processing) are imported only when a name from them is first used."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes", "load"]


def load(target: str) -> Any:
    """The object named by ``"package.module:attribute"``."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def lazy_attributes(
    package: str, table: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``table[name]`` (a module path) on first use and
    caching the result in the module's ``namespace``."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = load(f"{module}:{name}")
        namespace[name] = value
        return value

    return __getattr__
