"""Patient identity at every door that links images to an exam (issue 15, item 1).

C-STORE and the demo come through ingest (match_exam), the upload page through
reconcile.upload_to_exam, the reconciliation page through reconcile.link.
"""

from datetime import date
from pathlib import Path

import pytest
from django.urls import reverse
from pydicom import dcmread

from nephro.audit.models import AuditEvent
from nephro.dicom import ingest, samples
from nephro.dicom.matching import ImageIdentity, identity_conflicts, match_exam, same_name
from nephro.dicom.models import Instance
from nephro.drainage.models import DrainageAnalysis
from nephro.exams.lifecycle import State
from nephro.jobs.queue import run_pending
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _dirs(settings, tmp_path):
    settings.NEPHRO_DICOM_DIR = tmp_path / "dicom"
    settings.NEPHRO_DICOM_CACHE_DIR = tmp_path / "cache"


def _file(path: Path, *, birth_date: str = "", **identity) -> Path:
    samples.image(path, rows=16, cols=16, **identity)
    if birth_date:
        ds = dcmread(path)
        ds.PatientBirthDate = birth_date
        ds.save_as(path)
    return path


def _of(exam, **changes) -> dict:
    """The identity of the exam's own patient, with some fields changed."""
    patient = exam.patient
    return {
        "accession": exam.accession_number,
        "patient_id": patient.mrn,
        "patient_name": patient.dicom_name,
        "birth_date": patient.birth_date.strftime("%Y%m%d"),
        **changes,
    }


def _import(path: Path) -> Instance:
    with path.open("rb") as handle:
        return ingest.import_part10(handle, calling_ae="FLUORO1").instance


# --- comparing names and identities (pure) ---


@pytest.mark.parametrize(
    "sent, family, given",
    [
        ("DOE^JOHN", "Doe", "John"),
        ("Müller^Jörg", "Muller", "Jorg"),
        ("MUELLER^JOERG", "Mueller", "Joerg"),
        ("Wójcik^Łukasz", "Wojcik", "Lukasz"),
        ("  de la  Cruz ^ Ana María ", "De La Cruz", "Ana Maria"),
        ("Doe^John^Adam^Dr", "Doe", "John"),
        ("Doe^John", "Doe", "John Adam"),
        ("Yamada^Tarou=山田^太郎", "山田", "太郎"),
        ("Smith-Jones^Mary", "Smith Jones", "Mary"),
    ],
)
def test_it_takes_names_as_the_same_person(sent, family, given):
    assert same_name(sent, family, given)


@pytest.mark.parametrize(
    "sent, family, given",
    [
        ("DOE^JANE", "Doe", "John"),
        ("ROE^JOHN", "Doe", "John"),
        ("John^Doe", "Doe", "John"),  # family and given swapped is not the same PN
        ("Doe", "Doe", "John"),
    ],
)
def test_it_tells_different_names_apart(sent, family, given):
    assert not same_name(sent, family, given)


def test_an_identity_conflicts_field_by_field():
    patient = make_patient(born=date(1960, 5, 17))
    ok = ImageIdentity("A", "1.2", patient.mrn, patient.dicom_name, "19600517")
    assert identity_conflicts(ok, patient) == []
    assert identity_conflicts(ImageIdentity("A", "1.2", patient.mrn.lower()), patient) == []
    wrong = ImageIdentity("A", "1.2", "OTHER1", "Else^Someone", "19710101")
    assert identity_conflicts(wrong, patient) == ["patient ID", "name", "birth date"]
    garbled = ImageIdentity("A", "1.2", patient.mrn, "", "1960-5-17")
    assert identity_conflicts(garbled, patient) == ["birth date"]


# --- C-STORE and demo import (ingest -> match_exam) ---


def test_images_with_the_exams_identity_are_linked(make_exam, tmp_path):
    exam = make_exam(State.IN_PROGRESS)
    instance = _import(_file(tmp_path / "a.dcm", **_of(exam)))
    assert instance.exam == exam and instance.unmatched_reason == ""


@pytest.mark.parametrize(
    "changes, named",
    [
        ({"patient_id": "SOMEONE-ELSE"}, "patient ID"),
        ({"patient_name": "Other^Person"}, "name"),
        ({"birth_date": "19991231"}, "birth date"),
    ],
)
def test_a_different_patient_with_the_right_accession_waits(make_exam, tmp_path, changes, named):
    exam = make_exam(State.IN_PROGRESS)
    instance = _import(_file(tmp_path / "a.dcm", **_of(exam, **changes)))
    assert instance.exam is None
    assert named in instance.unmatched_reason
    assert exam.accession_number in instance.unmatched_reason


def test_match_exam_refuses_a_mismatched_name(make_exam):
    exam = make_exam(State.IN_PROGRESS)
    identity = ImageIdentity(exam.accession_number, "", exam.patient.mrn, "Other^Person")
    found, why = match_exam(identity)
    assert found is None and "name" in why


def test_images_for_an_exam_with_a_final_report_wait(make_exam, tmp_path):
    exam = make_exam(State.REPORTED)
    instance = _import(_file(tmp_path / "a.dcm", **_of(exam)))
    assert instance.exam is None
    assert "final" in instance.unmatched_reason


# --- the upload page ---


def test_uploading_another_patients_files_leaves_them_waiting(make_exam, people, login, tmp_path):
    exam = make_exam(State.IN_PROGRESS)
    other = make_patient()
    paths = [
        _file(tmp_path / f"{n}.dcm", patient_id=other.mrn, patient_name=other.dicom_name)
        for n in range(3)
    ]
    client = login(people["tech"])
    with paths[0].open("rb") as a, paths[1].open("rb") as b, paths[2].open("rb") as c:
        response = client.post(
            reverse("dicom:upload", args=[exam.pk]), {"files": [a, b, c]}, follow=True
        )
    text = response.content.decode()
    assert exam.instances.count() == 0
    assert Instance.objects.filter(exam__isnull=True).count() == 3
    assert "3 files stored but not added to this exam" in text
    assert "Unmatched images" in text
    assert "Not stored" not in text and "3 files stored;" not in text


def test_uploading_the_patients_own_files_without_accession_adds_them(
    make_exam, people, login, tmp_path
):
    exam = make_exam(State.IN_PROGRESS)
    path = _file(tmp_path / "a.dcm", **_of(exam, accession="FROM-CD"))
    with path.open("rb") as handle:
        response = login(people["tech"]).post(
            reverse("dicom:upload", args=[exam.pk]), {"files": [handle]}, follow=True
        )
    assert exam.instances.count() == 1
    assert "1 file stored and added to this exam" in response.content.decode()


def test_uploading_files_of_another_exam_says_where_they_went(make_exam, people, login, tmp_path):
    exam, other = make_exam(State.IN_PROGRESS), make_exam(State.ORDERED)
    path = _file(tmp_path / "a.dcm", **_of(other))
    with path.open("rb") as handle:
        response = login(people["tech"]).post(
            reverse("dicom:upload", args=[exam.pk]), {"files": [handle]}, follow=True
        )
    text = response.content.decode()
    assert other.instances.count() == 1 and exam.instances.count() == 0
    assert f"stored with exam {other.accession_number}" in text
    assert "Not stored" not in text


def test_uploading_to_a_final_exam_waits_and_says_why(make_exam, people, login, tmp_path):
    exam = make_exam(State.REPORTED)
    path = _file(tmp_path / "a.dcm", **_of(exam))
    with path.open("rb") as handle:
        response = login(people["radiologist"]).post(
            reverse("dicom:upload", args=[exam.pk]), {"files": [handle]}, follow=True
        )
    text = response.content.decode()
    assert exam.instances.count() == 0
    assert "is final" in text and "wait under Unmatched images" in text


def test_an_upload_larger_than_the_limit_is_refused(make_exam, people, login, tmp_path, settings):
    settings.NEPHRO_UPLOAD_MAX_MB = 0.001
    exam = make_exam(State.IN_PROGRESS)
    path = _file(tmp_path / "a.dcm", **_of(exam))
    with path.open("rb") as handle:
        response = login(people["tech"]).post(
            reverse("dicom:upload", args=[exam.pk]), {"files": [handle]}
        )
    assert response.status_code == 400
    assert b"The upload is too large: at most 0.001 MB" in response.content
    assert Instance.objects.count() == 0


# --- reconciliation ---


def _mixed_study(exam, tmp_path) -> str:
    """One study: one image of the exam's patient, two of somebody else."""
    study = "1.2.826.0.1.3680043.8.498.4242"
    other = make_patient()
    _import(_file(tmp_path / "own.dcm", study_uid=study, **_of(exam, accession="X1")))
    for n in range(2):
        _import(
            _file(
                tmp_path / f"o{n}.dcm",
                study_uid=study,
                accession="X1",
                patient_id=other.mrn,
                patient_name=other.dicom_name,
            )
        )
    return study


def test_reconciliation_shows_every_patient_of_a_study(make_exam, people, login, tmp_path):
    exam = make_exam(State.IN_PROGRESS)
    _mixed_study(exam, tmp_path)
    page = login(people["tech"]).get(reverse("dicom:reconcile")).content.decode()
    names = {i.patient_id for i in Instance.objects.all()}
    assert len(names) == 2 and all(mrn in page for mrn in names)
    assert "2 patients in this study" in page


def test_linking_another_patient_needs_a_confirmation_with_a_reason(
    make_exam, people, login, tmp_path
):
    exam = make_exam(State.IN_PROGRESS)
    study = _mixed_study(exam, tmp_path)
    client = login(people["tech"])
    url, form = reverse("dicom:link"), {"study_uid": study, "accession": exam.accession_number}
    asked = client.post(url, form)
    assert asked.status_code == 200 and b"Confirm" in asked.content
    assert exam.instances.count() == 0  # nothing linked by the first click
    no_reason = client.post(url, {**form, "confirm": "1", "reason": " "})
    assert no_reason.status_code == 400 and exam.instances.count() == 0
    done = client.post(url, {**form, "confirm": "1", "reason": "Registration error, checked"})
    assert done.status_code == 302 and exam.instances.count() == 3
    event = AuditEvent.objects.get(action="dicom.link")
    assert event.detail["reason"] == "Registration error, checked"
    assert event.detail["exam_patient"]["mrn"] == exam.patient.mrn
    sent = {who["patient_id"] for who in event.detail["sent"]}
    assert sent == {i.patient_id for i in Instance.objects.all()}


def test_a_nurse_cannot_link_images(make_exam, people, login, tmp_path):
    exam = make_exam(State.IN_PROGRESS)
    study = _mixed_study(exam, tmp_path)
    response = login(people["nurse"]).post(
        reverse("dicom:link"),
        {"study_uid": study, "accession": exam.accession_number, "confirm": "1", "reason": "x"},
    )
    assert response.status_code == 403 and exam.instances.count() == 0


def test_linking_to_a_final_exam_leads_to_an_addendum_without_reanalysis(
    make_exam, people, login, tmp_path
):
    exam = make_exam(State.REPORTED)
    instance = _import(_file(tmp_path / "a.dcm", **_of(exam)))
    client = login(people["radiologist"])
    form = {"study_uid": instance.study_instance_uid, "accession": exam.accession_number}
    asked = client.post(reverse("dicom:link"), form)
    assert asked.status_code == 200 and b"final" in asked.content
    done = client.post(reverse("dicom:link"), {**form, "confirm": "1", "reason": "Late film"})
    assert done.status_code == 302
    assert done["Location"] == reverse("reports:view", args=[exam.pk]) + "#addendum"
    assert exam.instances.count() == 1
    run_pending(["dicom.thumbnail"])  # the thumbnail job, done after the link
    assert not DrainageAnalysis.objects.filter(exam=exam).exists()
