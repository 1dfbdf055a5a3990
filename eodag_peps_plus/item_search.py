"""``ItemSearch``: a lazy search that yields ``pystac.Item``s, named and behaving like
pystac-client's (``items()``, ``item_collection()``, ``matched()``, ``pages()``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pystac

from .backends.base import Backend
from .product import Product
from .query import Query


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
    ) -> None:
        self.backend = backend
        self.queries = list(queries)
        self.max_items = max_items
        self.limit = limit

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

    def items(self) -> Iterator[pystac.Item]:
        """Items as the server's pages arrive: one page is held at a time, so a search of a
        million products runs in the memory of one page (keep what you need, not the items).
        """
        from .stac import product_to_item

        for product in self.products():
            yield product_to_item(product)

    def items_as_dicts(self) -> Iterator[dict[str, Any]]:
        for item in self.items():
            yield item.to_dict()

    def pages(self) -> Iterator[pystac.ItemCollection]:
        """Server pages as item collections (page boundaries are the server's)."""
        from .stac import product_to_item

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
                    yield pystac.ItemCollection([product_to_item(p) for p in products])
                if not page.next_token or not page.products:
                    break
                token = page.next_token

    def item_collection(self) -> pystac.ItemCollection:
        """Every item in memory at once (about 20 kB each): for a large search, iterate
        :meth:`items` instead, or set ``max_items``."""
        return pystac.ItemCollection(list(self.items()))

    def item_collection_as_dict(self) -> dict[str, Any]:
        return self.item_collection().to_dict()

    def matched(self) -> int | None:
        """Number of matching items according to the server (``None`` if it does not say)."""
        total = 0
        for query in self.queries:
            count = self.backend.count(query)
            if count is None:
                return None
            total += count
        return total
