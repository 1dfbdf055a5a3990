"""A third archive, added the documented way: one module with its class and its record.

Nothing else in the package is touched; ``test_third_backend.py`` checks that every entry
point (pystac-style client, ``peps-plus -B``, EODAG provider) then serves it.
"""

from __future__ import annotations

from eodag_peps_plus.backends import BackendSpec, register_backend
from eodag_peps_plus.backends.stac_api import StacApiBackend

from .conftest import PGSTAC_PROFILE


class PgstacBackend(StacApiBackend):
    name = "pgstac"
    profile = PGSTAC_PROFILE


SPEC = register_backend(
    BackendSpec(
        name="pgstac",
        label="pgstac",
        backend_class=f"{__name__}:PgstacBackend",
        default_url="http://127.0.0.1:1",
        provider="pgstac_plus",
        auth="apikey",
        page_cap=1000,
    )
)

#: Its EODAG provider block, as it would stand in providers.yml.
PROVIDER_YAML = """
pgstac_plus:
  priority: 0
  roles: [host]
  description: stac-fastapi-pgstac holding the GEODES sandbox's items
  url: http://127.0.0.1:1
  search:
    type: PepsPlusSearch
    backend: pgstac
    api_endpoint: http://127.0.0.1:1
    need_auth: false
    pagination: {max_limit: 4000, next_page_token_key: page}
    metadata_mapping: {id: '$.properties.identifier', title: '$.properties.identifier'}
  products:
    S2_MSI_L1C: {_collection: S2ST, product:type: S2MSI1C}
    GENERIC_COLLECTION: {_collection: '{collection}'}
  download: {type: StagingDownload, backend: pgstac, output_dir: '.'}
  auth: {type: PepsPlusAuth}
"""
