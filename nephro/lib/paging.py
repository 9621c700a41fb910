"""Paging for every list: a page of rows, the total count, and the query string to keep.

A list that can grow without bound (the worklist of a hospital group: a million exams)
is counted only as far as its reader can use: ``bounded=True`` counts the
rows over a LIMITed subquery, so the cost is that of reading a thousand index entries,
not the whole table. Below the bound the count is exact; at the bound the page says
"more than 1,000", which is true, never a wrong exact number. The bound moves with the
page asked for, so the next page is always known to exist and Previous/Next work to the
end (deep pages cost what their OFFSET costs anyway)."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

PER_PAGE = 50
PER_CARD = 20  # a dashboard card: one of several lists on one page, each paged on its own
COUNT_UP_TO = 1000  # for lists that can be huge: an exact count up to here, then "more than"


class CountingPaginator(Paginator):
    """A paginator whose count stops at ``limit + 1`` rows (``limit`` None: counts all).
    ``exact`` says whether ``count`` is the number of rows or only a lower bound."""

    def __init__(self, rows: Sequence | QuerySet, per_page: int, limit: int | None) -> None:
        super().__init__(rows, per_page)
        self.limit = limit

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if self.limit is None or not isinstance(rows, QuerySet):
            return super().count  # a list in memory: its length costs nothing
        # Only the key (the rows' annotations, the worklist's hold flag, are not counted)
        # and in no order: how many rows there are up to the bound does not depend on
        # which come first, and the planner may take the cheapest path to them.
        return rows.values("pk").order_by()[: self.limit + 1].count()

    @property
    def exact(self) -> bool:
        return self.limit is None or self.count <= self.limit

    @property
    def total(self) -> str:
        """The count as the page shows it (and the audit records it)."""
        return str(self.count) if self.exact else f"more than {self.limit:,}"


def _number(asked: str | None) -> int:
    """The page asked for; anything but a whole number from 1 up means page 1."""
    try:
        return max(1, int(asked or 1))
    except ValueError:
        return 1


def page_of(
    request: HttpRequest,
    rows: Sequence | QuerySet,
    per_page: int | None = None,
    *,
    param: str = "page",
    bounded: bool = False,
) -> tuple[Page, str]:
    """The requested page (a bad or too-large number gives the nearest page) and the
    other GET parameters, so page links keep the filters. A page with several lists
    gives each its own `param`, so paging one keeps the others where they are
    (`{% include "_pager.html" with param=... %}`). A `bounded` list is counted only up
    to COUNT_UP_TO rows, or to the end of the page asked for if that is further."""
    per_page = per_page or PER_PAGE
    number = _number(request.GET.get(param))
    limit = max(COUNT_UP_TO, number * per_page) if bounded else None
    page = CountingPaginator(rows, per_page, limit).get_page(number)
    # Read the rows now, with the count: a view that writes after paging (the audit
    # search records itself) must not shift the page it shows.
    page.object_list = list(page.object_list)
    params = request.GET.copy()
    params.pop(param, None)
    return page, params.urlencode()
