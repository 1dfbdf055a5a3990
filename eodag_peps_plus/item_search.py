"""``ItemSearch``: a lazy search that yields ``pystac.Item``s, named and behaving like
pystac-client's (``items()``, ``item_collection()``, ``matched()``, ``pages()``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pystac

from .backends.base import Backend
from .exceptions import InvalidQueryError
from .product import Product
from .query import Query
from .stac import product_to_item
from .stac_params import Fields
from .vocabulary import shown

if TYPE_CHECKING:
    from .staging import StagingOptions
    from .staging.report import DownloadReport

#: pystac-client's ``modifier``: mutates an item, a collection or their dicts in place.
Modifier = Callable[[Any], None]

__all__ = ["ItemSearch"]


class ItemSearch:
    """One or more unified queries (one per requested collection) against one backend.

    Nothing is requested until results are asked for; ``max_items`` caps the total and
    ``limit`` is the page size sent to the server.
    """

    def __init__(
        self,
        backend: Backend,
        queries: Sequence[Query],
        *,
        max_items: int | None = None,
        limit: int | None = None,
        sortby: Sequence[tuple[str, str]] = (),
        fields: Fields | None = None,
        modifier: Modifier | None = None,
    ) -> None:
        """Args:
        backend: the server searched.
        queries: validated queries, searched one after the other.
        max_items: stop after this many items.
        limit: page size asked of the server.
        sortby: ``(field, "asc"|"desc")`` clauses, sent to the server.
        fields: what each item keeps (fields extension).
        modifier: called on each item (or its dict) before it is handed out.

        Raises:
            InvalidQueryError: the server cannot sort that way, or a sort over several
                collections (they are searched one after the other, so the order would be
                per collection).
        """
        if sortby and len(queries) > 1:
            raise InvalidQueryError(
                "sortby with several collections: each collection is one search, chained, so "
                "the order would hold per collection only; search one collection at a time"
            )
        self.backend = backend.sorted_by(sortby) if sortby else backend
        self.queries = list(queries)
        self.max_items = max_items
        self.limit = limit
        self.sortby = tuple(sortby)
        self.fields = fields or Fields()
        self.modifier = modifier

    def products(self) -> Iterator[Product]:
        """Backend-neutral records, for callers that do not need STAC objects."""
        remaining = self.max_items
        for query in self.queries:
            if remaining is not None and remaining <= 0:
                return
            for product in self.backend.search(query, limit=self.limit, max_items=remaining):
                yield product
                if remaining is not None:
                    remaining -= 1

    def _item(self, product: Product) -> pystac.Item:
        item = product_to_item(product)
        if self.fields.include or self.fields.exclude:
            data = self.fields.apply(item.to_dict())
            try:
                item = pystac.Item.from_dict(data, preserve_dict=False)
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidQueryError(
                    f"fields: the items left ({shown(str(exc), 40)} missing) are not STAC "
                    "items; read them with items_as_dicts() or pages_as_dicts()"
                ) from None
        if self.modifier is not None:
            self.modifier(item)
        return item

    def item_dict(self, product: Product) -> dict[str, Any]:
        """One product as the item dict :meth:`items_as_dicts` yields."""
        data = self.fields.apply(product_to_item(product).to_dict())
        if self.modifier is not None:
            self.modifier(data)
        return data

    def items(self) -> Iterator[pystac.Item]:
        """Items as the server's pages arrive: the page being read and the next one (read
        meanwhile) are held, so a search of a million products runs in the memory of two
        pages (keep what you need, not the items).
        """
        for product in self.products():
            yield self._item(product)

    def items_as_dicts(self) -> Iterator[dict[str, Any]]:
        """Items as plain dicts (``fields`` applied), without pystac objects."""
        for product in self.products():
            yield self.item_dict(product)

    def _product_pages(self) -> Iterator[list[Product]]:
        remaining = self.max_items
        for query in self.queries:
            token: str | None = None
            while remaining is None or remaining > 0:
                size = self.limit if remaining is None else min(self.limit or remaining, remaining)
                page = self.backend.search_page(query, limit=size, token=token)
                products = page.products if remaining is None else page.products[:remaining]
                if remaining is not None:
                    remaining -= len(products)
                if products:
                    yield products
                if not page.next_token or not page.products:
                    break
                token = page.next_token

    def pages(self) -> Iterator[pystac.ItemCollection]:
        """Server pages as item collections (page boundaries are the server's)."""
        for products in self._product_pages():
            yield pystac.ItemCollection([self._item(p) for p in products])

    def pages_as_dicts(self) -> Iterator[dict[str, Any]]:
        """Server pages as GeoJSON FeatureCollection dicts."""
        for products in self._product_pages():
            yield {"type": "FeatureCollection", "features": [self.item_dict(p) for p in products]}

    def item_collection(self) -> pystac.ItemCollection:
        """Every item in memory at once (about 20 kB each): for a large search, iterate
        :meth:`items` instead, or set ``max_items``."""
        return pystac.ItemCollection(list(self.items()))

    def item_collection_as_dict(self) -> dict[str, Any]:
        return {"type": "FeatureCollection", "features": list(self.items_as_dicts())}

    def matched(self) -> int | None:
        """Number of matching items according to the server (``None`` if it does not say)."""
        total = 0
        for query in self.queries:
            count = self.backend.count(query)
            if count is None:
                return None
            total += count
        return total

    def download(
        self,
        output: str | os.PathLike[str],
        options: StagingOptions | None = None,
        **overrides: Any,
    ) -> DownloadReport:
        """Download every product found, restoring those on tape first: the staging of
        ``peps-plus download``, with its options and its report.

        Args:
            output: a folder, or an fsspec URL (``s3://bucket/prefix``).
            options: the staging settings (:class:`~eodag_peps_plus.staging.StagingOptions`);
                default: its defaults.
            **overrides: some of its fields (``timeout``, ``extract``, ``quiet``...).

        Returns:
            The report: ``report.ok``, ``report.paths``, ``print(report.format())``.

        Raises:
            ConfigurationError: a setting out of its bounds.
            AuthenticationError: the archive refused the credentials.
        """
        from .staging import Downloader

        downloader = Downloader(self.backend, os.fspath(output), options, **overrides)
        return downloader.download(self.products())

    def url_with_parameters(self) -> str:
        """No meaning here: a search may be several requests (per collection, per server
        page cap) in a server's own dialect."""
        raise NotImplementedError(
            "url_with_parameters: a search here is translated per server (resto parameters, "
            "GEODES bodies) and may span several requests; use .queries (the validated "
            "searches) or peps-plus search --json for a results file"
        )
