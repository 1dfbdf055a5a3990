"""MAJA processing: one interface, implemented over PEPS WPS and GEODES OGC API Processes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import ProcessingError

if TYPE_CHECKING:
    from ..backends.base import Backend
    from .base import ProcessingBackend


def processing_for(backend: Backend) -> ProcessingBackend:
    """The processing service matching a backend (by its registry name)."""
    raise ProcessingError(f"backend {backend.name!r} offers no processing")
