import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from nephro.audit.actor import Actor
from nephro.audit.models import AuditError, AuditEvent
from nephro.audit.services import record, verify_chain
from nephro.exams.lifecycle import State

pytestmark = pytest.mark.django_db


def test_it_links_every_event_to_the_one_before(make_exam):
    make_exam(State.REPORTED)
    events = list(AuditEvent.objects.order_by("seq"))
    assert len(events) > 10
    for previous, event in zip(events, events[1:], strict=False):
        assert event.prev_hash == previous.hash
    assert list(verify_chain()) == []
    call_command("audit", "verify")


def test_it_refuses_edits_and_deletes_through_the_app(make_exam):
    make_exam(State.SCREENED)
    event = AuditEvent.objects.first()
    event.action = "something.else"
    with pytest.raises(AuditError):
        event.save()
    with pytest.raises(AuditError):
        event.delete()


def test_it_detects_an_edited_event(make_exam):
    make_exam(State.SCREENED)
    victim = AuditEvent.objects.order_by("seq")[3]
    AuditEvent.objects.filter(pk=victim.pk).update(username="mallory")
    problems = list(verify_chain())
    assert [p.seq for p in problems] == [victim.seq]
    assert "edited" in problems[0].problem
    with pytest.raises(CommandError):
        call_command("audit", "verify")


def test_it_detects_a_removed_event(make_exam):
    make_exam(State.SCREENED)
    victim = AuditEvent.objects.order_by("seq")[2]
    AuditEvent.objects.filter(pk=victim.pk)._raw_delete(AuditEvent.objects.db)
    assert any("removed" in p.problem or "gap" in p.problem for p in verify_chain())


def test_it_records_who_what_patient_where_and_outcome(people, make_exam, client):
    exam = make_exam(State.SCHEDULED)
    client.force_login(people["nurse"])
    client.get(reverse("exams:detail", args=[exam.pk]), REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.filter(action="exam.read").first()
    assert (event.username, event.role, event.object_type, event.object_id) == (
        "nina",
        "nurse",
        "Exam",
        str(exam.pk),
    )
    assert event.patient_mrn == exam.patient.mrn and event.source_address == "10.1.2.3"
    assert event.outcome == "success"


def test_it_lets_radiologists_and_admins_search_it(people, make_exam, client):
    exam = make_exam(State.SCREENED)
    for key in ("radiologist", "admin"):
        client.force_login(people[key])
        page = client.get(reverse("audit:search"), {"mrn": exam.patient.mrn}).content.decode()
        assert "exam: screen" in page  # the action in words
    client.force_login(people["nurse"])
    assert client.get(reverse("audit:search")).status_code == 403


def test_it_records_system_actors(db):
    event = record(Actor.device("FLUORO1", "10.0.0.9"), "dicom.store")
    assert (event.username, event.role, event.user_id_ref) == ("dicom:FLUORO1", "system", None)
    assert event.source_address == "10.0.0.9" and "actor" not in event.detail


def test_it_records_on_whose_behalf_and_keeps_the_chain(people):
    nurse = Actor(user=people["nurse"]).acting_for("patient:MRN1")
    event = record(nurse, "checkin.submit")
    assert (event.username, event.on_behalf_of) == ("nina", "patient:MRN1")
    assert list(verify_chain()) == []
    AuditEvent.objects.filter(pk=event.pk).update(on_behalf_of="patient:MRN2")
    assert any("edited" in p.problem for p in verify_chain())


def test_events_written_while_the_chain_is_checked_are_no_break(make_exam, people):
    """The check streams a long trail while people keep working: an event appended after
    it began is not a problem (it was reported as one: the head was read at the end)."""
    make_exam(State.SCREENED)
    appended = []

    def work_meanwhile(execute, sql, params, many, context):
        if "audit_chainhead" in sql and sql.lstrip().startswith("SELECT") and not appended:
            appended.append(True)  # before the head is read: after the stream, formerly
            record(Actor(user=people["nurse"]), "worklist.read")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(work_meanwhile):
        assert list(verify_chain()) == []
    assert appended


def test_it_detects_the_last_events_removed(make_exam):
    make_exam(State.SCREENED)
    last = AuditEvent.objects.order_by("-seq")[:2]
    AuditEvent.objects.filter(pk__in=[e.pk for e in last])._raw_delete(AuditEvent.objects.db)
    assert any("chain head says" in p.problem for p in verify_chain())
