"""MAJA processing: one interface, implemented over PEPS WPS and GEODES OGC API Processes.

:func:`processing_for` gives a backend's service (named by its ``BackendSpec``); :class:`MajaJobs` (in ``jobs``) is
the façade that checks, submits, follows and fetches jobs through the durable job store.
Submodules load lazily so importing a backend stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes, load
from ..exceptions import ProcessingError

if TYPE_CHECKING:
    from ..backends.base import Backend
    from .base import JobState, JobStatus, ProcessingBackend, ResultFile
    from .ensure import EnsureReport, ensure
    from .jobs import FetchReport, MajaJobs
    from .store import JobRecord, JobStore

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

__all__ = [  # spelled out: type checkers read it without running it
    "EnsureReport",
    "FetchReport",
    "JobRecord",
    "JobState",
    "JobStatus",
    "JobStore",
    "MajaJobs",
    "ProcessingBackend",
    "ResultFile",
    "ensure",
    "processing_for",
]


def processing_for(backend: Backend) -> ProcessingBackend:
    """The processing service of a backend, as its record names it.

    Raises:
        ProcessingError: the backend runs no processing.
    """
    target = backend.spec.processing
    if target is None:
        raise ProcessingError(f"backend {backend.name!r} offers no processing")
    service: ProcessingBackend = load(target)(backend)
    return service


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
