"""The radiologist's dose review page: accept a device's values, clear a dose flag (a
person's audited decisions, dose.py), each with a reason; nobody else may."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.dicom import dose
from nephro.dicom.models import DeviceDose, DoseAlert
from nephro.exams.lifecycle import State
from nephro.exams.models import Procedure

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewed(make_exam):
    """A completed exam with a typed-in Ka,r of 2,000 mGy, and a dose report that came
    after it saying 6,000 mGy: kept as evidence, with the 5 Gy and mismatch flags."""
    exam = make_exam(State.COMPLETED)
    procedure, _ = Procedure.objects.get_or_create(exam=exam)
    procedure.ka_r_mgy, procedure.dose_source = Decimal("2000"), "manual"
    procedure.save()
    evidence = dose.apply_device_dose(
        Actor.device("FLUORO1", "10.1.2.3"),
        exam.pk,
        source="rdsr",
        reference="1.2.3.4",
        reported=dose.Reported(ka_r_mgy=Decimal("6000"), kap_gy_cm2=Decimal("42.5")),
        calling_ae="FLUORO1",
    )
    assert evidence is not None and evidence.outcome == DeviceDose.Outcome.KEPT
    return exam, evidence


def _open_codes(exam) -> set[str]:
    return {alert.code for alert in dose.active_alerts(exam)}


def test_a_radiologist_sees_the_devices_values_and_the_open_flags(reviewed, people, login):
    exam, _ = reviewed
    client = login(people["radiologist"])
    detail = client.get(reverse("exams:detail", args=[exam.pk])).content.decode()
    assert reverse("dicom:dose", args=[exam.pk]) in detail  # the way to the review
    page = client.get(reverse("dicom:dose", args=[exam.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "6000.00" in html and "Accept these values" in html and "Clear this flag" in html
    assert AuditEvent.objects.filter(action="dicom.dose.read", username="rita").exists()


def test_accepting_a_devices_values_corrects_the_dose_and_keeps_the_flags(reviewed, people, login):
    exam, evidence = reviewed
    response = login(people["radiologist"]).post(
        reverse("dicom:dose-accept", args=[exam.pk]),
        {
            "evidence": evidence.pk,
            "reason": "The unit's report is right; the typed value was a slip.",
        },
    )
    assert response.status_code == 302
    procedure = Procedure.objects.get(exam=exam)
    assert procedure.ka_r_mgy == Decimal("6000.00") and procedure.dose_source == "rdsr"
    evidence.refresh_from_db()
    assert evidence.outcome == DeviceDose.Outcome.ACCEPTED
    event = AuditEvent.objects.get(action="procedure.dose_correction")
    assert event.username == "rita" and "slip" in event.detail["reason"]
    assert event.detail["before"]["ka_r_mgy"] == "2000.00"
    assert _open_codes(exam) == {"DOSE_SRDL", "DOSE_MISMATCH"}


def test_clearing_a_flag_ends_it_with_the_reason(reviewed, people, login):
    exam, _ = reviewed
    alert = DoseAlert.objects.get(exam=exam, code="DOSE_MISMATCH")
    response = login(people["radiologist"]).post(
        reverse("dicom:dose-clear", args=[exam.pk]),
        {"alert": alert.pk, "reason": "Checked the unit's log: the report is right."},
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.cleared_at is not None and alert.cleared_by == people["radiologist"]
    assert "DOSE_MISMATCH" not in _open_codes(exam)
    event = AuditEvent.objects.get(action="procedure.dose_flag_cleared")
    assert event.username == "rita" and event.detail["code"] == "DOSE_MISMATCH"


@pytest.mark.parametrize("reason", ["", "   "])
def test_without_a_reason_nothing_changes(reviewed, people, login, reason):
    exam, evidence = reviewed
    alert = DoseAlert.objects.get(exam=exam, code="DOSE_SRDL")
    client = login(people["radiologist"])
    for url, chosen in (
        (reverse("dicom:dose-accept", args=[exam.pk]), {"evidence": evidence.pk}),
        (reverse("dicom:dose-clear", args=[exam.pk]), {"alert": alert.pk}),
    ):
        response = client.post(url, {**chosen, "reason": reason})
        assert response.status_code == 400
        assert b"say why" in response.content
    assert Procedure.objects.get(exam=exam).ka_r_mgy == Decimal("2000.00")
    assert _open_codes(exam) == {"DOSE_SRDL", "DOSE_MISMATCH"}
    assert not AuditEvent.objects.filter(
        action__in=["procedure.dose_correction", "procedure.dose_flag_cleared"]
    ).exists()


def test_only_a_radiologist_may_review_accept_or_clear(reviewed, people, login, client):
    exam, evidence = reviewed
    alert = DoseAlert.objects.get(exam=exam, code="DOSE_SRDL")
    for who in ("tech", "nurse", "referrer", "patient", "admin"):
        client.force_login(people[who])
        assert client.get(reverse("dicom:dose", args=[exam.pk])).status_code == 403
        accept = reverse("dicom:dose-accept", args=[exam.pk])
        assert client.post(accept, {"evidence": evidence.pk, "reason": "x"}).status_code == 403
        clear = reverse("dicom:dose-clear", args=[exam.pk])
        assert client.post(clear, {"alert": alert.pk, "reason": "x"}).status_code == 403
    detail = login(people["tech"]).get(reverse("exams:detail", args=[exam.pk]))
    assert reverse("dicom:dose", args=[exam.pk]).encode() not in detail.content
    assert Procedure.objects.get(exam=exam).ka_r_mgy == Decimal("2000.00")


def test_a_value_or_flag_of_another_exam_or_none_is_not_found(reviewed, make_exam, people, login):
    exam, evidence = reviewed
    other = make_exam(State.COMPLETED)
    alert = DoseAlert.objects.get(exam=exam, code="DOSE_SRDL")
    client = login(people["radiologist"])
    accept = reverse("dicom:dose-accept", args=[other.pk])
    assert client.post(accept, {"evidence": evidence.pk, "reason": "x"}).status_code == 404
    clear = reverse("dicom:dose-clear", args=[other.pk])
    assert client.post(clear, {"alert": alert.pk, "reason": "x"}).status_code == 404
    # A form naming nothing, or not a number: nothing to decide on.
    for bad in ({}, {"evidence": "1x"}, {"evidence": ""}):
        accept = reverse("dicom:dose-accept", args=[exam.pk])
        assert client.post(accept, {**bad, "reason": "x"}).status_code == 404
    assert client.get(reverse("dicom:dose-accept", args=[exam.pk])).status_code == 405
