"""Tape-aware staging downloads: scheduler, trustworthy transfers, ledger, extraction.

Names load lazily: a transfer process imports only what a transfer needs (not the scheduler,
the ledger or the progress bars), which keeps each one smaller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from .options import PollSchedule, StagingOptions
    from .report import DownloadReport, DownloadStatus, ProductReport
    from .scheduler import Downloader, download

_LAZY = {
    "Downloader": "eodag_peps_plus.staging.scheduler",
    "download": "eodag_peps_plus.staging.scheduler",
    "DownloadReport": "eodag_peps_plus.staging.report",
    "DownloadStatus": "eodag_peps_plus.staging.report",
    "ProductReport": "eodag_peps_plus.staging.report",
    "PollSchedule": "eodag_peps_plus.staging.options",
    "StagingOptions": "eodag_peps_plus.staging.options",
}

__all__ = [
    "DownloadReport",
    "DownloadStatus",
    "Downloader",
    "PollSchedule",
    "ProductReport",
    "StagingOptions",
    "download",
]

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
