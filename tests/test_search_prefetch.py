"""``Catalogue.search`` reads the next page while the caller reads this one (issue 24): the
products, their order, errors and paging checks are those of reading page after page."""

from __future__ import annotations

import threading
from typing import ClassVar

import pytest

from eodag_peps_plus.backends.base import Catalogue, SearchPage
from eodag_peps_plus.exceptions import PagingError
from eodag_peps_plus.product import Product
from eodag_peps_plus.query import Query


def _product(index: int) -> Product:
    return Product(str(index), str(index), "fake", {"type": "Point", "coordinates": [0, 0]}, {}, "")


class Pages(Catalogue):
    """``pages`` pages of 3 products; page ``fail_at`` raises; tokens may repeat."""

    name: ClassVar[str] = "fake"
    max_page_size: ClassVar[int] = 3

    def __init__(self, pages: int, fail_at: int | None = None, loop: bool = False) -> None:
        self.pages, self.fail_at, self.loop = pages, fail_at, loop
        self.asked: list[int] = []
        self.threads: set[str] = set()

    def search_page(
        self, query: Query, *, limit: int | None = None, page: int = 1, token: str | None = None
    ) -> SearchPage:
        number = int(token) if token else 1
        self.asked.append(number)
        self.threads.add(threading.current_thread().name)
        if number == self.fail_at:
            raise PagingError(f"page {number} failed")
        following = None if number >= self.pages else ("2" if self.loop else str(number + 1))
        products = [_product((number - 1) * 3 + i) for i in range(3)]
        return SearchPage(products, self.pages * 3, following)


def test_every_product_in_order_from_a_prefetching_thread() -> None:
    pages = Pages(5)
    assert [p.id for p in pages.search(Query.create())] == [str(i) for i in range(15)]
    assert pages.asked == [1, 2, 3, 4, 5]
    assert "prefetch" in pages.threads


def test_an_error_of_the_next_page_comes_after_this_page() -> None:
    pages = Pages(5, fail_at=3)
    read: list[str] = []
    with pytest.raises(PagingError, match="page 3 failed"):
        read.extend(p.id for p in pages.search(Query.create()))
    assert read == [str(i) for i in range(6)]


def test_repeated_tokens_are_refused_after_the_page() -> None:
    pages = Pages(5, loop=True)
    read: list[str] = []
    with pytest.raises(PagingError, match="already read"):
        read.extend(p.id for p in pages.search(Query.create()))
    assert read == [str(i) for i in range(6)]


def test_max_items_asks_no_page_beyond() -> None:
    pages = Pages(5)
    assert len(list(pages.search(Query.create(), max_items=6))) == 6
    assert pages.asked == [1, 2]


def test_a_reader_that_stops_early_is_not_held() -> None:
    pages = Pages(5)
    search = pages.search(Query.create())
    assert next(search).id == "0"
    search.close()  # the prefetched page is dropped; nothing waits for it
    assert pages.asked[:1] == [1] and len(pages.asked) <= 2
