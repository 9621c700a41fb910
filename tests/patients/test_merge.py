"""An administrator merges two records of one person; the trail says what moved where."""

from datetime import date

import pytest

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.patients.merge import merge_patients, unmerge
from nephro.patients.models import Patient, PatientMerge
from nephro.patients.services import PatientError
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def twins(make_exam):
    kept = make_patient(family_name="Nowak", given_name="Anna", born=date(1970, 3, 4))
    merged = make_patient(family_name="NOWAK", given_name="anna", born=date(1970, 3, 4))
    make_exam(patient=kept)
    exam = make_exam(patient=merged)
    return kept, merged, exam


def test_an_administrator_merges_with_a_confirmation(people, login, twins):
    kept, merged, exam = twins
    client = login(people["admin"])
    listed = client.get("/patients/merge/").content.decode()
    assert kept.mrn in listed and merged.mrn in listed
    form = {"kept_mrn": kept.mrn, "merged_mrn": merged.mrn.lower(), "reason": "Same person"}
    asked = client.post("/patients/merge/", form)
    assert asked.status_code == 400 and "tick to confirm" in asked.content.decode()
    assert not PatientMerge.objects.exists()
    done = client.post("/patients/merge/", {**form, "confirm": "on"})
    assert done.status_code == 302
    exam.refresh_from_db()
    merged.refresh_from_db()
    assert exam.patient == kept and exam.order.patient == kept and exam.tube.patient == kept
    assert merged.merged_into == kept
    merge = PatientMerge.objects.get()
    assert merge.moved["exams"] == [exam.pk] and merge.snapshot["mrn"] == merged.mrn
    event = AuditEvent.objects.get(action="patient.merge")
    assert event.detail["moved"]["exams"] == [exam.pk] and event.username == "adam"


def test_a_merged_record_leaves_the_lists_and_leads_to_the_kept_one(people, login, twins):
    kept, merged, _ = twins
    merge_patients(Actor(user=people["admin"]), kept_id=kept.pk, merged_id=merged.pk, reason="x")
    client = login(people["nurse"])
    assert merged.mrn not in client.get("/patients/").content.decode()
    assert client.get(f"/patients/{merged.pk}/").url == f"/patients/{kept.pk}/"


def test_it_refuses_a_second_merge_and_a_merge_without_reason(people, twins):
    kept, merged, _ = twins
    admin = Actor(user=people["admin"])
    with pytest.raises(PatientError, match="needs a reason"):
        merge_patients(admin, kept_id=kept.pk, merged_id=merged.pk, reason=" ")
    merge_patients(admin, kept_id=kept.pk, merged_id=merged.pk, reason="Same person")
    with pytest.raises(PatientError, match="already merged"):
        merge_patients(admin, kept_id=kept.pk, merged_id=merged.pk, reason="Again")
    assert Patient.objects.filter(merged_into=kept).count() == 1


def test_others_may_not_merge(people, login):
    for role in ("nurse", "radiologist", "referrer"):
        assert login(people[role]).get("/patients/merge/").status_code == 403


@pytest.fixture
def full_twins(people, make_exam):
    """A merged record with something in every moved relation, and a kept one without an account."""
    kept = make_patient(family_name="Nowak", given_name="Anna", born=date(1970, 3, 4))
    merged = make_patient(
        people["patient"], family_name="Nowak", given_name="Anna", born=date(1970, 3, 4)
    )
    kept_exam = make_exam(patient=kept)
    exam = make_exam(patient=merged)
    merged.allergies.create(kind="contrast", agent="iohexol", reaction="hives")
    merged.invitations.create(
        email="a@example.org",
        token_hash="h" * 64,
        created_by=people["nurse"],
        created_at=exam.created_at,
        expires_at=exam.created_at,
    )
    merged.referrers.add(people["referrer"], people["other_referrer"])
    kept.referrers.add(people["referrer"])
    return kept, merged, kept_exam, exam


def _holdings(patient: Patient) -> dict:
    patient.refresh_from_db()
    return {
        "orders": sorted(patient.orders.values_list("pk", flat=True)),
        "exams": sorted(patient.exams.values_list("pk", flat=True)),
        "tubes": sorted(patient.tubes.values_list("pk", flat=True)),
        "invitations": sorted(patient.invitations.values_list("pk", flat=True)),
        "allergies": sorted(patient.allergies.values_list("pk", flat=True)),
        "referrers": sorted(patient.referrers.values_list("pk", flat=True)),
        "user": patient.user_id,
        "merged_into": patient.merged_into_id,
    }


def test_an_administrator_reverses_a_merge_and_every_moved_row_goes_back(
    people, login, full_twins, make_exam
):
    kept, merged, _, _ = full_twins
    before = {"kept": _holdings(kept), "merged": _holdings(merged)}
    merge = merge_patients(
        Actor(user=people["admin"]), kept_id=kept.pk, merged_id=merged.pk, reason="x"
    )
    assert _holdings(merged)["exams"] == [] and _holdings(kept)["user"] == people["patient"].pk
    later = make_exam(patient=kept)  # made after the merge: it stays on the kept record
    client = login(people["admin"])
    page = client.get("/patients/merge/").content.decode()
    assert f"/patients/merge/{merge.pk}/undo/" in page and "Undo merge" in page
    done = client.post(f"/patients/merge/{merge.pk}/undo/")
    assert done.status_code == 302
    after_kept = _holdings(kept)
    assert _holdings(merged) == before["merged"]
    assert after_kept["exams"] == sorted(before["kept"]["exams"] + [later.pk])
    assert after_kept["referrers"] == before["kept"]["referrers"]
    assert after_kept["user"] is None
    merge.refresh_from_db()
    assert merge.reversed_at is not None and merge.reversed_by == people["admin"]
    event = AuditEvent.objects.get(action="patient.unmerge")
    assert event.username == "adam" and event.detail["moved_back"]["exams"] == merge.moved["exams"]
    assert AuditEvent.objects.filter(action="patient.unmerged", patient_ref=merged.pk).exists()
    listed = client.get("/patients/merge/").content.decode()
    assert "Undone" in listed and "by Adam" in listed and "Undo merge" not in listed


def test_a_reversed_merge_cannot_be_reversed_twice_and_the_record_may_be_merged_again(
    people, full_twins
):
    kept, merged, _, _ = full_twins
    admin = Actor(user=people["admin"])
    first = merge_patients(admin, kept_id=kept.pk, merged_id=merged.pk, reason="x")
    unmerge(admin, first.pk)
    with pytest.raises(PatientError, match="already reversed"):
        unmerge(admin, first.pk)
    with pytest.raises(PatientError, match="no such merge"):
        unmerge(admin, first.pk + 100)
    again = merge_patients(admin, kept_id=kept.pk, merged_id=merged.pk, reason="y")
    assert again.pk != first.pk and PatientMerge.objects.filter(merged=merged).count() == 2


def test_it_refuses_to_reverse_when_the_kept_record_was_merged_on(people, full_twins):
    kept, merged, _, _ = full_twins
    admin = Actor(user=people["admin"])
    first = merge_patients(admin, kept_id=kept.pk, merged_id=merged.pk, reason="x")
    third = make_patient()
    merge_patients(admin, kept_id=third.pk, merged_id=kept.pk, reason="y")
    with pytest.raises(PatientError, match="undo that first"):
        unmerge(admin, first.pk)
    assert _holdings(merged)["exams"] == []


def test_a_system_may_merge_and_is_named(full_twins):
    kept, merged, _, _ = full_twins
    merge = merge_patients(
        Actor.system("hl7:EHR"), kept_id=kept.pk, merged_id=merged.pk, reason="A40"
    )
    assert merge.merged_by is None and merge.merged_by_name == "hl7:EHR"
    assert AuditEvent.objects.get(action="patient.merge").username == "hl7:EHR"
    with pytest.raises(PatientError, match="person or a named system"):
        merge_patients(Actor(), kept_id=merged.pk, merged_id=kept.pk, reason="x")


def test_only_an_administrator_may_reverse(people, login, full_twins):
    kept, merged, _, _ = full_twins
    merge = merge_patients(
        Actor(user=people["admin"]), kept_id=kept.pk, merged_id=merged.pk, reason="x"
    )
    for role in ("nurse", "radiologist", "referrer"):
        assert login(people[role]).post(f"/patients/merge/{merge.pk}/undo/").status_code == 403
    assert login(people["admin"]).get(f"/patients/merge/{merge.pk}/undo/").status_code == 405
    merge.refresh_from_db()
    assert merge.reversed_at is None
