"""The shape of the search queries (their speed lives in bench/fhir_search.py), and the
date prefixes' meaning at each precision."""

from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from nephro.exams.lifecycle import State
from nephro.exams.models import Exam

pytestmark = pytest.mark.django_db


def _sql(fhir, url: str, token: str) -> tuple[dict, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = fhir.get(url, token)
    assert response.status_code == 200, response.content
    return response.json(), [q["sql"] for q in ctx.captured_queries]


def test_a_page_joins_only_its_own_rows(fhir, token_for, people, make_exam):
    exams = [make_exam(State.ORDERED) for _ in range(3)]
    token = token_for(None, "system/ServiceRequest.read")
    body, sql = _sql(fhir, "/fhir/ServiceRequest?status=active&_count=2&_offset=1", token)
    assert [e["resource"]["id"] for e in body["entry"]] == [str(e.pk) for e in exams[1:]]
    assert body["total"] == 3
    joined = [q for q in sql if 'FROM "exams_exam" INNER JOIN' in q]
    assert len(joined) == 1, sql
    assert '"exams_exam"."id" IN (' in joined[0] and "OFFSET" not in joined[0]


def test_the_number_of_queries_does_not_grow_with_the_page(fhir, token_for, people, make_exam):
    token = token_for(None, "system/*.read")
    make_exam(State.FOLLOW_UP)
    url = (
        "/fhir/DiagnosticReport?_include=DiagnosticReport:result&_include=DiagnosticReport:patient"
    )
    _, one = _sql(fhir, url, token)
    make_exam(State.FOLLOW_UP)
    make_exam(State.FOLLOW_UP)
    body, three = _sql(fhir, url, token)
    assert body["total"] == 3 and len(three) == len(one)


def test_a_grant_reaching_every_exam_has_no_exam_subquery(fhir, token_for, people, make_exam):
    mine = make_exam(State.FOLLOW_UP)
    other = make_exam(State.FOLLOW_UP, referrer=people["other_referrer"])
    for grant in (token_for(None, "system/*.read"), token_for(people["nurse"], "user/*.read")):
        for kind in ("DiagnosticReport", "Procedure"):
            body, sql = _sql(fhir, f"/fhir/{kind}", grant)
            assert len(body["entry"]) == 2 and not [q for q in sql if "IN (SELECT" in q]
    # A referrer still reaches only their own patients' exams.
    alice = token_for(people["referrer"], "user/*.read")
    for kind in ("DiagnosticReport", "Procedure"):
        body, _ = _sql(fhir, f"/fhir/{kind}", alice)
        ids = {e["resource"]["basedOn"][0]["reference"] for e in body["entry"]}
        assert ids == {f"ServiceRequest/{mine.pk}"}, (kind, other.pk)


def _booked(exams: list[Exam], moments: list[datetime]) -> None:
    for exam, moment in zip(exams, moments, strict=True):
        Exam.objects.filter(pk=exam.pk).update(scheduled_at=moment)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("eq2026", ["jan", "dec"]),
        ("2026-12", ["dec"]),
        ("eq2026-12-03", ["dec"]),
        ("ne2026-12-03", ["jan", "next"]),
        ("gt2026-12-03", ["next"]),
        ("ge2026-12-03", ["dec", "next"]),
        ("lt2026-12-03", ["jan"]),
        ("le2026-12-03", ["jan", "dec"]),
        ("le2026", ["jan", "dec"]),
        ("gt2026", ["next"]),
        ("lt2026-12-03T10:00:00", ["jan", "dec"]),
        ("gt2026-12-03T10:00:00", ["next"]),
        ("eq2026-12-03T09:30:00", ["dec"]),
    ],
)
def test_date_prefixes_cover_the_whole_year_month_or_day(
    fhir, token_for, make_exam, search, expected
):
    """Times without an offset are the server's time zone, as the stored ones here."""
    names = ["jan", "dec", "next"]
    exams = [make_exam(State.SCHEDULED) for _ in names]
    moments = [datetime(2026, 1, 1), datetime(2026, 12, 3, 9, 30), datetime(2027, 1, 2)]
    _booked(exams, [timezone.make_aware(m) for m in moments])
    token = token_for(None, "system/ServiceRequest.read")
    body, sql = _sql(fhir, f"/fhir/ServiceRequest?occurrence={search}", token)
    found = {e["resource"]["id"] for e in body.get("entry", [])}
    assert found == {str(exams[names.index(n)].pk) for n in expected}
    assert not [q for q in sql if "django_datetime_cast_date" in q]


def test_a_birth_date_is_found_on_its_day(fhir, token_for, make_exam):
    exam = make_exam(State.ORDERED)
    born = exam.patient.birth_date.isoformat()
    token = token_for(None, "system/Patient.read")
    body, _ = _sql(fhir, f"/fhir/Patient?birthdate={born}", token)
    assert [e["resource"]["id"] for e in body["entry"]] == [str(exam.patient_id)]
