"""Paging for every list: a page of rows, the total count, and the query string to keep."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PER_PAGE = 50


def page_of(
    request: HttpRequest,
    rows: Sequence | QuerySet,
    per_page: int | None = None,
    *,
    param: str = "page",
) -> tuple[Page, str]:
    """The requested page (a bad or too-large number gives the nearest page) and the
    other GET parameters, so page links keep the filters. A page with several lists
    gives each its own `param`, so paging one keeps the others where they are
    (`{% include "_pager.html" with param=... %}`)."""
    page = Paginator(rows, per_page or PER_PAGE).get_page(request.GET.get(param))
    # Read the rows now, with the count: a view that writes after paging (the audit
    # search records itself) must not shift the page it shows.
    page.object_list = list(page.object_list)
    params = request.GET.copy()
    params.pop(param, None)
    return page, params.urlencode()
