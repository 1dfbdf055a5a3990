"""eodag-peps-plus: PEPS and GEODES for EODAG.

Heavy modules (EODAG plugins, the client) load lazily: EODAG imports this package's entry
points by attribute, and ``import eodag_peps_plus`` stays cheap for the CLI and the sandbox.
"""

from __future__ import annotations

from ._lazy import lazy_attributes

__version__ = "0.1.0"

_LAZY = {
    "Client": "eodag_peps_plus.client",
    "ItemSearch": "eodag_peps_plus.item_search",
    "Query": "eodag_peps_plus.query",
    "PepsPlusSearch": "eodag_peps_plus.eodag_plugins.search",
    "StagingDownload": "eodag_peps_plus.eodag_plugins.download",
    "PepsPlusAuth": "eodag_peps_plus.eodag_plugins.auth",
}

__all__ = ["__version__", *_LAZY]


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
