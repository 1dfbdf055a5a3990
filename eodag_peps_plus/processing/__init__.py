"""MAJA processing: one interface, implemented over PEPS WPS and GEODES OGC API Processes.

``Backend.processing()`` lands in :func:`processing_for`; :class:`MajaJobs` (in ``jobs``) is
the façade that checks, submits, follows and fetches jobs through the durable job store.
Submodules load lazily so importing a backend stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..exceptions import ProcessingError

if TYPE_CHECKING:
    from ..backends.base import Backend
    from .base import ProcessingBackend

#: backend name -> "module:Class" of its processing service.
IMPLEMENTATIONS = {
    "peps": "eodag_peps_plus.processing.wps:WpsProcessing",
    "geodes": "eodag_peps_plus.processing.ogc:OgcProcessing",
}

_LAZY = {
    "MajaJobs": "eodag_peps_plus.processing.jobs",
    "FetchReport": "eodag_peps_plus.processing.jobs",
    "JobStore": "eodag_peps_plus.processing.store",
    "JobRecord": "eodag_peps_plus.processing.store",
    "JobState": "eodag_peps_plus.processing.base",
    "JobStatus": "eodag_peps_plus.processing.base",
    "ResultFile": "eodag_peps_plus.processing.base",
    "ProcessingBackend": "eodag_peps_plus.processing.base",
    "ensure": "eodag_peps_plus.processing.ensure",
    "EnsureReport": "eodag_peps_plus.processing.ensure",
}

__all__ = ["IMPLEMENTATIONS", "processing_for", *_LAZY]


def processing_for(backend: Backend) -> ProcessingBackend:
    """The processing service matching a backend (by its registry name)."""
    target = IMPLEMENTATIONS.get(backend.name)
    if target is None:
        raise ProcessingError(f"backend {backend.name!r} offers no processing")
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    service: ProcessingBackend = cls(backend)
    return service


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
