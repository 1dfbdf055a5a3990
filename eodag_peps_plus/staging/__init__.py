"""Tape-aware staging downloads: scheduler, trustworthy transfers, ledger, extraction."""

from .scheduler import Downloader, DownloadReport, DownloadStatus, ProductReport, download

__all__ = ["DownloadReport", "DownloadStatus", "Downloader", "ProductReport", "download"]
