"""The hot paths' queries can each be served by an index (issue 18, item 4), on
PostgreSQL. The tables here are tiny, so the planner is told not to read whole tables
where it has any other way (enable_seqscan off): a sequential scan left in a plan, or
the index missing from it, means no index can serve that query (a missing index, or a
query shape none serves). bench/scale.py times these paths at a group's size."""

import json
import os
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from bench.queries import selects_of
from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from tests.conftest import make_patient

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="the plans (pg_trgm indexes, EXPLAIN) are PostgreSQL's",
    ),
]
HOT = {"patients_patient", "exams_exam", "tubes_tube", "screening_flag", "audit_auditevent"}


def plans(call: Callable[[], object]) -> list[dict]:
    """The plan of every SELECT that `call` runs, with sequential scans off."""
    found = []
    selects = selects_of(call)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql, params in selects:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
            found.append((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
    return found


def nodes(plan_list: list[dict]) -> list[dict]:
    todo, seen = list(plan_list), []
    while todo:
        node = todo.pop()
        seen.append(node)
        todo.extend(node.get("Plans", []))
    return seen


def assert_indexed(call: Callable[[], object], *indexes: str) -> None:
    """No sequential scan of a hot table, and each index (a name or its start) used."""
    every = nodes(plans(call))
    scans = {n["Relation Name"] for n in every if n["Node Type"] == "Seq Scan"} & HOT
    assert not scans, f"sequential scan of {scans}"
    used = {n["Index Name"] for n in every if "Index Name" in n}
    missing = [i for i in indexes if not any(name.startswith(i) for name in used)]
    assert not missing, f"{missing} not used; used {used}"


@pytest.fixture
def nurse(people, login):
    return login(people["nurse"])


def ok(client, url: str) -> Callable[[], object]:
    def call():
        assert client.get(url).status_code == 200

    return call


def test_the_patient_search_reads_the_trigram_indexes(nurse):
    patient = make_patient(family_name="Kowalski", given_name="Jan", mrn="S000123")
    assert_indexed(ok(nurse, "/patients/?q=kowal+jan"), "patients_family_trgm")
    assert_indexed(ok(nurse, f"/patients/?q={patient.mrn[1:]}"), "patients_mrn_trgm")


def test_the_worklist_search_reads_the_trigram_and_accession_indexes(nurse, make_exam):
    exam = make_exam(State.SCHEDULED)
    assert_indexed(ok(nurse, "/exams/?q=given"), "patients_given_trgm")
    assert_indexed(ok(nurse, f"/exams/?q={exam.accession_number}"), "exams_exam_accession_number")


def test_the_worklist_and_dashboard_read_the_schedule_by_a_range(nurse, make_exam):
    make_exam(State.SCHEDULED).flags.create(code="X", severity="hold", text="X", source="t")
    assert_indexed(ok(nurse, "/exams/"), "exam_schedule_order", "flag_active_holds")
    assert_indexed(ok(nurse, "/exams/?day=today"), "exam_schedule_order")
    assert_indexed(ok(nurse, "/"), "exam_schedule_order", "tube_due_in_place")


def test_the_nurse_queues_read_a_state_in_order_of_arrival(nurse, make_exam):
    make_exam(State.ORDERED)
    make_exam(State.SCREENED)
    assert_indexed(ok(nurse, "/"), "exam_state_arrival")


def test_the_tube_due_list_reads_the_tubes_in_place_only(nurse, make_exam):
    make_exam(State.SCHEDULED)
    assert_indexed(ok(nurse, "/tubes/due/"), "tube_due_in_place")


def test_a_patients_audit_trail_is_read_by_patient_and_time(people, login):
    admin = login(people["admin"])
    assert_indexed(ok(admin, "/audit/?mrn=S000123"), "audit_patient_time")
    since = timezone.now() - timedelta(days=30)
    by_time = AuditEvent.objects.filter(patient_mrn="S000123", at__gte=since).order_by("-seq")
    assert_indexed(lambda: list(by_time[:200]), "audit_patient_time")


def test_the_patient_list_reads_a_page_in_its_order(nurse):
    make_patient(family_name="Kowalski", given_name="Jan", mrn="S000123")
    assert_indexed(ok(nurse, "/patients/"), "patient_list_order")
