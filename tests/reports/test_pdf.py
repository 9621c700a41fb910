"""The report PDF and the patient handout: any script in names, the study's facts, sizes."""

import io
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from nephro.audit.actor import Actor
from nephro.dicom import ingest, samples
from nephro.dicom.models import Instance
from nephro.exams.lifecycle import State
from nephro.portal.handout import handout_pdf
from nephro.reports import fonts, services
from nephro.reports.models import Report
from nephro.reports.pdf import report_pdf
from tests.conftest import findings_form

pytestmark = pytest.mark.django_db

NAMES = [
    ("Wójcik", "Łukasz"),  # Polish
    ("Παπαδόπουλος", "Γιώργος"),  # Greek
    ("王", "小明"),  # Chinese
    ("عبد الله", "محمد"),  # Arabic
]


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def _named(exam, family: str, given: str):
    exam.patient.family_name, exam.patient.given_name = family, given
    exam.patient.save()
    return exam


@pytest.mark.parametrize("family, given", NAMES)
def test_the_report_prints_names_in_any_script(make_exam, family, given):
    exam = _named(make_exam(State.REPORTED), family, given)
    text = _text(report_pdf(exam))
    assert f"{family.upper()}, {given}" in text  # as the patient is named everywhere
    assert "?" not in text.split("MRN")[0]  # nothing replaced before the MRN


@pytest.mark.parametrize("family, given", NAMES)
def test_the_handout_prints_names_in_any_script(make_exam, family, given):
    exam = _named(make_exam(State.SCHEDULED), family, given)
    text = _text(handout_pdf(exam))
    assert family in text and given in text


def test_the_report_carries_the_study_date_institution_tube_decision_and_key_images(
    make_exam, people, settings, tmp_path
):
    settings.NEPHRO_DICOM_DIR = tmp_path / "dicom"
    settings.NEPHRO_DICOM_CACHE_DIR = tmp_path / "cache"
    settings.NEPHRO_INSTITUTION = "St Elsewhere Radiology"
    exam = make_exam(State.COMPLETED)
    samples.image(
        tmp_path / "a.dcm",
        rows=64,
        cols=64,
        accession=exam.accession_number,
        patient_id=exam.patient.mrn,
    )
    with (tmp_path / "a.dcm").open("rb") as handle:
        ingest.import_part10(handle, calling_ae="FLUORO1")
    assert Instance.objects.filter(exam=exam).count() == 1
    rad = Actor(user=people["radiologist"])
    services.save_findings(rad, exam.pk, findings_form())
    services.sign(rad, exam.pk, final=True)
    services.record_disposition(rad, exam.pk, decision="remove", reason="Drains freely")
    exam.refresh_from_db()
    pdf = report_pdf(exam)
    text = _text(pdf)
    assert "St Elsewhere Radiology" in text
    assert f"Study date {timezone.localtime(exam.started_at):%Y-%m-%d}" in text
    assert "Tube decision" in text and "Remove the tube" in text
    assert "Key images" in text
    images = [image for page in PdfReader(io.BytesIO(pdf)).pages for image in page.images]
    assert len(images) == 1


def test_a_huge_stored_text_prints_shortened_with_a_note(make_exam, settings):
    settings.NEPHRO_REPORT_TEXT_MAX_CHARS = 2000
    exam = make_exam(State.REPORTED)
    # Stored before any limit existed (the model refuses to change a final report).
    Report.objects.filter(exam=exam).update(findings_text="word " * 480_000)
    text = _text(report_pdf(exam))
    assert "shortened for printing" in text


def test_the_pdf_page_serves_the_unicode_report(make_exam, people, login):
    exam = _named(make_exam(State.REPORTED), "Wójcik", "Łukasz")
    response = login(people["radiologist"]).get(reverse("reports:pdf", args=[exam.pk]))
    assert response.status_code == 200 and "Łukasz" in _text(response.content)


def test_missing_fonts_name_the_packages_to_install(monkeypatch):
    monkeypatch.setattr(fonts, "CJK", Path("/nowhere/DroidSansFallbackFull.ttf"))
    with pytest.raises(fonts.FontsMissing, match="fonts-droid-fallback"):
        fonts.UnicodePDF("x")


def test_only_right_to_left_and_joined_scripts_are_shaped():
    assert fonts.needs_shaping("محمد") and fonts.needs_shaping("שלום")
    assert not fonts.needs_shaping("Łukasz Γιώργος 王小明")
