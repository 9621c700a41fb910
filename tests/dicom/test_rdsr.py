"""Vendors' dose reports (issue 16 item 5): every unit, every layout, read the same."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydicom.uid import generate_uid

from nephro.dicom import ingest, rdsr
from nephro.exams.lifecycle import State
from nephro.exams.models import Procedure
from nephro.jobs.queue import run_pending
from tests.dicom.rdsr_layouts import ENHANCED_SR, LAYOUTS, report

KAP_UNITS = [  # (unit as sent, value, Gy.cm2)
    ("Gy.m2", "0.00042", "4.2"),  # the templates' own unit
    ("Gym2", "0.00042", "4.2"),
    ("Gy*m2", "0.00042", "4.2"),
    ("Gy·m²", "0.00042", "4.2"),
    ("dGy.m2", "0.0042", "4.2"),
    ("cGy.m2", "0.042", "4.2"),
    ("mGy.m2", "0.42", "4.2"),
    ("uGy.m2", "420", "4.2"),
    ("µGy.m2", "420", "4.2"),  # micro sign
    ("μGy.m2", "420", "4.2"),  # Greek mu
    ("Gy.dm2", "0.042", "4.2"),
    ("Gy.cm2", "4.2", "4.2"),
    ("dGy.cm2", "42", "4.2"),
    ("cGy.cm2", "420", "4.2"),
    ("mGy.cm2", "4200", "4.2"),
    ("uGy.cm2", "4200000", "4.2"),
    ("Gy.mm2", "420", "4.2"),
]
KAR_UNITS = [("Gy", "3.2", "3200"), ("dGy", "32", "3200"), ("cGy", "320", "3200")]
KAR_UNITS += [("mGy", "3200", "3200"), ("uGy", "3200000", "3200"), ("µGy", "3200000", "3200")]
TIME_UNITS = [("s", "95", "95"), ("min", "1.5", "90"), ("ms", "95000", "95"), ("h", "0.5", "1800")]


def _single(values: dict) -> rdsr.DoseTotals:
    return rdsr.read_totals(report(planes={"single": values}))


@pytest.mark.parametrize("unit, value, gy_cm2", KAP_UNITS)
def test_every_dose_area_product_unit(unit, value, gy_cm2):
    assert _single({"113722": (value, unit)}).kap_gy_cm2 == Decimal(gy_cm2)


@pytest.mark.parametrize("unit, value, mgy", KAR_UNITS)
def test_every_reference_point_dose_unit(unit, value, mgy):
    assert _single({"113725": (value, unit)}).ka_r_mgy == Decimal(mgy)


@pytest.mark.parametrize("unit, value, seconds", TIME_UNITS)
def test_every_time_unit(unit, value, seconds):
    assert _single({"113730": (value, unit)}).fluoro_time_s == Decimal(seconds)


@pytest.mark.parametrize(
    "code, unit", [("113722", "rad"), ("113722", "Gy.m3"), ("113722", "R.cm2"), ("113725", "R")]
)
def test_an_unknown_unit_is_refused_never_guessed(code, unit):
    with pytest.raises(rdsr.DoseReportError, match="unknown"):
        _single({code: ("1", unit)})


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_each_vendor_layout(name):
    build, (time_s, kap, kar) = LAYOUTS[name]
    totals = rdsr.read_totals(build())
    expected = tuple(None if v is None else Decimal(v) for v in (time_s, kap, kar))
    assert (totals.fluoro_time_s, totals.kap_gy_cm2, totals.ka_r_mgy) == expected


def test_an_enhanced_sr_that_is_no_dose_report_is_told_apart():
    with pytest.raises(rdsr.NotADoseReport):
        rdsr.read_totals(report(ENHANCED_SR, root="126000"))


def test_negative_values_are_refused():
    with pytest.raises(rdsr.DoseReportError, match="not a usable value"):
        _single({"113722": ("-0.001", "Gy.m2")})


@pytest.mark.django_db
def test_an_enhanced_sr_dose_report_fills_the_exam(make_exam, dicom_dirs, tmp_path):
    exam = make_exam(State.IN_PROGRESS)
    ds = report(ENHANCED_SR, planes={"single": {"113722": ("0.0004", "Gym2")}})
    ds.StudyInstanceUID, ds.SeriesInstanceUID = exam.study_instance_uid, generate_uid()
    ds.AccessionNumber, ds.PatientID = exam.accession_number, exam.patient.mrn
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp_path / "sr.dcm"
    ds.save_as(path, enforce_file_format=True)
    with path.open("rb") as source:
        ingest.import_part10(source, calling_ae="FLUORO1")
    assert run_pending(["dicom.rdsr"]) == 1
    procedure = Procedure.objects.get(exam=exam)
    assert (procedure.kap_gy_cm2, procedure.dose_source) == (Decimal("4.0000"), "rdsr")
