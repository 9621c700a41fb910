"""Dose from devices is evidence, not a command (issue 16 item 3)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from pydicom.dataset import Dataset

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.dicom import dose, mpps
from nephro.dicom.models import DeviceDose, DoseAlert
from nephro.exams.lifecycle import State
from nephro.exams.models import Procedure

pytestmark = pytest.mark.django_db
FLUORO = Actor.device("FLUORO1", "10.1.2.3")


def _device(exam, source="rdsr", reference="1.2.3.4", **values) -> DeviceDose | None:
    reported = dose.Reported(**{k: Decimal(str(v)) for k, v in values.items()})
    return dose.apply_device_dose(
        FLUORO, exam.pk, source=source, reference=reference, reported=reported, calling_ae="FLUORO1"
    )


def _manual(exam, **values) -> Procedure:
    procedure, _ = Procedure.objects.get_or_create(exam=exam)
    for name, value in values.items():
        setattr(procedure, name, Decimal(str(value)))
    procedure.dose_source = "manual"
    procedure.save()
    return procedure


def _open_codes(exam) -> set[str]:
    return {alert.code for alert in dose.active_alerts(exam)}


def test_a_device_zero_never_replaces_a_manual_6000_nor_clears_its_flag(make_exam):
    exam = make_exam(State.IN_PROGRESS)
    _manual(exam, ka_r_mgy=6000)
    evidence = _device(exam, ka_r_mgy=0, kap_gy_cm2=4.2)
    procedure = Procedure.objects.get(exam=exam)
    assert procedure.ka_r_mgy == Decimal("6000.00")  # the person's value stays
    assert procedure.kap_gy_cm2 == Decimal("4.2000")  # an empty value is filled
    assert procedure.dose_source == "manual"
    assert evidence.outcome == DeviceDose.Outcome.PARTLY and evidence.ka_r_mgy == 0
    assert _open_codes(exam) == {"DOSE_SRDL", "DOSE_MISMATCH"}
    mismatch = DoseAlert.objects.get(code="DOSE_MISMATCH")
    assert "device 0.00, recorded 6000.00" in mismatch.text
    event = AuditEvent.objects.filter(action="procedure.dose").latest("pk")
    assert event.detail["reported"]["ka_r_mgy"] == "0.00"
    assert event.detail["after"]["ka_r_mgy"] == "6000.00"


def test_values_within_ten_percent_raise_no_mismatch(make_exam):
    exam = make_exam(State.IN_PROGRESS)
    _manual(exam, ka_r_mgy=1000)
    _device(exam, ka_r_mgy=1099)
    assert _open_codes(exam) == set()
    _device(exam, ka_r_mgy=1101, reference="1.2.3.5")
    assert _open_codes(exam) == {"DOSE_MISMATCH"}


@pytest.mark.parametrize("value", ["-1234.5", "NaN", "Infinity", "-0.01", "1e9"])
def test_values_that_are_not_doses_are_refused(make_exam, value):
    exam = make_exam(State.IN_PROGRESS)
    with pytest.raises(dose.InvalidDose):
        _device(exam, kap_gy_cm2=value)
    assert not DeviceDose.objects.exists()


@pytest.mark.parametrize("value", ["-1234.5", "NaN", "-Infinity"])
def test_an_mpps_with_a_value_that_is_not_a_dose_is_refused(value):
    ds = Dataset()
    ds.PerformedProcedureStepStatus = "COMPLETED"
    ds.ImageAndFluoroscopyAreaDoseProduct = "0"
    ds["ImageAndFluoroscopyAreaDoseProduct"].value = value  # as a device would send it
    with pytest.raises(mpps.MppsError) as refused:
        mpps.read_step(ds)
    assert refused.value.status == 0x0106


def test_nothing_changes_on_a_closed_exam_but_the_evidence_is_kept(make_exam):
    exam = make_exam(State.CLOSED)
    before = Procedure.objects.get(exam=exam)
    evidence = _device(exam, source="mpps", kap_gy_cm2=1234.5, fluoro_time_s=60)
    after = Procedure.objects.get(exam=exam)
    assert (after.kap_gy_cm2, after.fluoro_time_s, after.dose_source) == (
        before.kap_gy_cm2,
        before.fluoro_time_s,
        before.dose_source,
    )
    assert evidence.outcome == DeviceDose.Outcome.KEPT
    assert _open_codes(exam) == {"DOSE_MISMATCH"}  # KAP 1234.5 vs the recorded 1.5


def test_a_person_may_accept_a_devices_dose_as_an_audited_correction(make_exam, people):
    exam = make_exam(State.COMPLETED)
    evidence = _device(exam, ka_r_mgy=15)
    with pytest.raises(dose.NotAPerson):
        dose.accept_device_dose(FLUORO, evidence.pk, reason="device says so")
    rita = Actor(user=people["radiologist"])
    with pytest.raises(ValueError):
        dose.accept_device_dose(rita, evidence.pk, reason=" ")
    procedure = dose.accept_device_dose(rita, evidence.pk, reason="RDSR checked on the console")
    assert procedure.ka_r_mgy == Decimal("15.00") and procedure.dose_source == "rdsr"
    event = AuditEvent.objects.get(action="procedure.dose_correction")
    assert event.detail["before"]["ka_r_mgy"] == "12.00"
    assert event.detail["reason"] == "RDSR checked on the console"


def test_device_values_fill_an_in_progress_exam_rdsr_over_mpps_never_the_reverse(make_exam):
    exam = make_exam(State.IN_PROGRESS)
    first = _device(exam, source="mpps", reference="9.9", kap_gy_cm2=3.5, fluoro_time_s=80)
    assert first.outcome == DeviceDose.Outcome.APPLIED
    _device(exam, source="rdsr", kap_gy_cm2=3.6, fluoro_time_s=81)
    procedure = Procedure.objects.get(exam=exam)
    assert (procedure.kap_gy_cm2, procedure.dose_source) == (Decimal("3.6000"), "rdsr")
    late = _device(exam, source="mpps", reference="9.8", kap_gy_cm2=3.7)
    assert late.outcome == DeviceDose.Outcome.KEPT
    assert Procedure.objects.get(exam=exam).kap_gy_cm2 == Decimal("3.6000")


def test_a_dose_flag_stays_until_a_person_clears_it(make_exam, people):
    exam = make_exam(State.IN_PROGRESS)
    _device(exam, ka_r_mgy=3200)
    assert _open_codes(exam) == {"DOSE_NOTICE"}
    _device(exam, ka_r_mgy=100, reference="1.2.3.9")  # a later, lower report
    assert "DOSE_NOTICE" in _open_codes(exam)
    notice = DoseAlert.objects.get(code="DOSE_NOTICE")
    with pytest.raises(dose.NotAPerson):
        dose.clear_alert(FLUORO, notice.pk, reason="lower now")
    dose.clear_alert(Actor(user=people["radiologist"]), notice.pk, reason="Skin checked: fine")
    assert "DOSE_NOTICE" not in _open_codes(exam)
    event = AuditEvent.objects.get(action="procedure.dose_flag_cleared")
    assert event.detail["code"] == "DOSE_NOTICE" and event.username == "rita"


def test_the_exam_page_shows_the_devices_dose_and_the_mismatch(make_exam, people, login):
    exam = make_exam(State.IN_PROGRESS)
    _manual(exam, ka_r_mgy=6000)
    _device(exam, ka_r_mgy=0)
    page = login(people["radiologist"]).get(reverse("exams:detail", args=[exam.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Dose from devices" in text and "RDSR from FLUORO1" in text
    assert "disagrees with the recorded dose by more than 10 %" in text
    assert text.count("substantial radiation dose level") == 1  # not shown twice
