"""How to install an optional extra, said the same way by every message that needs one.

The README installs from a checkout (``pip install '.[test]'``), so ``'.[dask]'`` is what a
README reader types; from PyPI it is ``'eodag-peps-plus[dask]'``. Quoted: zsh expands
unquoted brackets.
"""

from __future__ import annotations

__all__ = ["install_hint"]


def install_hint(extra: str) -> str:
    """``pip install '.[dask]'`` (in the project's folder) or ``'eodag-peps-plus[dask]'``."""
    return (
        f"install the {extra} extra: .venv/bin/pip install '.[{extra}]' in the project's folder "
        f"(from PyPI: pip install 'eodag-peps-plus[{extra}]')"
    )
