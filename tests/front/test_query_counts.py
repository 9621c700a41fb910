"""List pages cost the same number of queries for 2 rows as for 12 (no N+1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from nephro.exams.lifecycle import State

pytestmark = pytest.mark.django_db


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "name,who",
    [
        ("exams:worklist", "nurse"),
        ("home", "nurse"),
        ("home", "radiologist"),
        ("tubes:registry", "nurse"),
        ("patients:list", "nurse"),
        ("followup:triage", "nurse"),
        ("tubes:trials", "nurse"),
    ],
)
def test_it_does_not_grow_queries_with_rows(people, make_exam, login, name, who):
    client = login(people[who])
    for _ in range(2):
        make_exam(State.SCHEDULED)
    few = _queries(client, reverse(name))
    for _ in range(10):
        make_exam(State.SCHEDULED)
    many = _queries(client, reverse(name))
    assert many == few, f"{name}: {few} queries for 2 exams, {many} for 12"
