"""nephro.lib: paging every list and reading settings from the environment."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.audit.services import record
from nephro.lib import paging
from nephro.lib.env import env_bool, env_int, env_list
from nephro.lib.paging import page_of


@pytest.mark.parametrize(
    ("asked", "shown"), [("2", 2), ("99", 3), ("x", 1), (None, 1), ("0", 1), ("-4", 1)]
)
def test_a_bad_or_too_large_page_number_gives_the_nearest_page(asked, shown):
    query = {"q": "Nowak", **({"page": asked} if asked else {})}
    page, keep = page_of(RequestFactory().get("/list/", query), list(range(120)), per_page=50)
    assert page.number == shown
    assert page.paginator.count == 120
    assert keep == "q=Nowak"  # the filters stay, the page number does not


@pytest.fixture
def twelve_events(db):
    for _ in range(12):
        record(Actor.system("test"), "exam.read")
    return AuditEvent.objects.order_by("seq")


@pytest.fixture(autouse=True)
def count_up_to_five(monkeypatch):
    monkeypatch.setattr(paging, "COUNT_UP_TO", 5)


def bounded(events, asked: str | None):
    """Two rows a page; counted exactly only up to five rows (or the page asked for)."""
    request = RequestFactory().get("/list/", {"page": asked} if asked else {})
    return page_of(request, events, per_page=2, bounded=True)[0]


def test_a_long_list_is_counted_only_up_to_the_bound_and_says_more_than(twelve_events):
    with CaptureQueriesContext(connection) as queries:
        page = bounded(twelve_events, None)
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and "LIMIT 6" in counts[0]  # a LIMITed subquery, not the table
    assert "ORDER BY" not in counts[0]  # which rows come first does not change how many
    assert page.paginator.count == 6 and not page.paginator.exact
    assert page.paginator.total == "more than 5"  # true: never a wrong exact number
    assert list(page) == list(twelve_events)[:2] and page.has_next() and not page.has_previous()


@pytest.mark.parametrize(
    ("asked", "number", "total", "more"),
    [
        ("3", 3, "more than 6", True),  # past the bound: counted to the page's end and one
        ("5", 5, "more than 10", True),
        ("6", 6, "12", False),  # the end reached: exact again
        ("99", 6, "12", False),  # too far: the last page, counted exactly
    ],
)
def test_next_keeps_working_past_the_bound_until_the_last_page(
    twelve_events, asked, number, total, more
):
    page = bounded(twelve_events, asked)
    assert (page.number, page.paginator.total, page.has_next()) == (number, total, more)
    assert page.paginator.exact == (not more)
    assert list(page) == list(twelve_events)[2 * number - 2 : 2 * number]


def test_a_short_list_is_counted_exactly(twelve_events):
    page = bounded(twelve_events.filter(pk__in=[e.pk for e in twelve_events[:4]]), None)
    assert page.paginator.exact and page.paginator.total == "4" and page.paginator.num_pages == 2


def test_environment_values_that_mean_nothing_stop_the_service(monkeypatch):
    monkeypatch.setenv("NEPHRO_X_FLAG", "perhaps")
    monkeypatch.setenv("NEPHRO_X_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="true or false"):
        env_bool("NEPHRO_X_FLAG", False)
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("NEPHRO_X_NUMBER", 1)
    monkeypatch.setenv("NEPHRO_X_LIST", " FLUORO1@10.0.0.1, ,FLUORO2 ")
    assert env_list("NEPHRO_X_LIST", []) == ["FLUORO1@10.0.0.1", "FLUORO2"]
