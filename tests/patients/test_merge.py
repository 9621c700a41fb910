"""An administrator merges two records of one person; the trail says what moved where."""

from datetime import date

import pytest

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.patients.merge import merge_patients
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
