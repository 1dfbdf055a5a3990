"""Collection names users may type, mapped to the unified (collection, product type) pair.

Kept for its public names: the table and the rule live in :mod:`eodag_peps_plus.vocabulary`.
"""

from __future__ import annotations

from .vocabulary import COLLECTION_ALIASES as ALIASES
from .vocabulary import collection as resolve

__all__ = ["ALIASES", "resolve"]
