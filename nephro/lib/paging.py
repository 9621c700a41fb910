"""Paging for every list: a page of rows, the total count, and the query string to keep."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PER_PAGE = 50


def page_of(
    request: HttpRequest, rows: Sequence | QuerySet, per_page: int = PER_PAGE
) -> tuple[Page, str]:
    """The requested page (a bad or too-large number gives the nearest page) and the
    other GET parameters, so page links keep the filters."""
    page = Paginator(rows, per_page).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return page, params.urlencode()
