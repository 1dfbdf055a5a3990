"""eodag-peps-plus: PEPS and GEODES for EODAG.

The names users need are here: ``Client`` (pystac-style search), ``Downloader`` (tape-aware
staging downloads), ``MajaJobs`` (MAJA processing), ``Product`` and the errors.

Heavy modules (EODAG plugins, the client, staging, processing) load lazily: EODAG imports this
package's entry points by attribute, and ``import eodag_peps_plus`` stays cheap for the CLI and
the sandbox. The ``TYPE_CHECKING`` imports below say the same names to type checkers, which do
not run ``__getattr__`` (a test checks that both lists agree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes
from .exceptions import (
    AuthenticationError,
    BackendError,
    ConfigurationError,
    DownloadError,
    ForeignOriginError,
    InvalidQueryError,
    MalformedReplyError,
    PagingError,
    PepsPlusError,
    ProcessingError,
    ProductNotAvailableError,
    QuotaExceededError,
    UnknownBackendError,
)

if TYPE_CHECKING:
    from .client import Client
    from .eodag_plugins.auth import PepsPlusAuth
    from .eodag_plugins.download import StagingDownload
    from .eodag_plugins.search import PepsPlusSearch
    from .item_search import ItemSearch
    from .processing.jobs import MajaJobs
    from .product import Availability, Product
    from .query import Query
    from .staging import Downloader, DownloadReport, StagingOptions

__version__ = "0.1.0"

_LAZY = {
    "Client": "eodag_peps_plus.client",
    "ItemSearch": "eodag_peps_plus.item_search",
    "Query": "eodag_peps_plus.query",
    "Product": "eodag_peps_plus.product",
    "Availability": "eodag_peps_plus.product",
    "Downloader": "eodag_peps_plus.staging",
    "DownloadReport": "eodag_peps_plus.staging",
    "StagingOptions": "eodag_peps_plus.staging",
    "MajaJobs": "eodag_peps_plus.processing",
    "PepsPlusSearch": "eodag_peps_plus.eodag_plugins.search",
    "StagingDownload": "eodag_peps_plus.eodag_plugins.download",
    "PepsPlusAuth": "eodag_peps_plus.eodag_plugins.auth",
}

__all__ = [  # spelled out: type checkers read it without running it
    "__version__",
    "Client",
    "ItemSearch",
    "Query",
    "Product",
    "Availability",
    "Downloader",
    "DownloadReport",
    "StagingOptions",
    "MajaJobs",
    "PepsPlusSearch",
    "StagingDownload",
    "PepsPlusAuth",
    "AuthenticationError",
    "BackendError",
    "ConfigurationError",
    "DownloadError",
    "ForeignOriginError",
    "InvalidQueryError",
    "MalformedReplyError",
    "PagingError",
    "PepsPlusError",
    "ProcessingError",
    "ProductNotAvailableError",
    "QuotaExceededError",
    "UnknownBackendError",
]


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
