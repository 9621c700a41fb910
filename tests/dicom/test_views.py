"""The images section, the viewer, rendered frames and the reconciliation list."""

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.dicom import ingest, samples
from nephro.dicom.models import Instance
from nephro.exams.lifecycle import State
from nephro.jobs.queue import run_pending

pytestmark = pytest.mark.django_db


def _store(path: Path, **kwargs) -> Instance:
    """Store a sample file the way the listener does (without the network)."""
    from pydicom import dcmread

    ds = dcmread(path)
    data = path.read_bytes()
    offset = 132 + 12 + int.from_bytes(data[140:144], "little")
    return ingest.store(
        sop_class=ds.SOPClassUID,
        sop_instance=ds.SOPInstanceUID,
        syntax=ds.file_meta.TransferSyntaxUID,
        dataset=memoryview(data)[offset:],
        calling_ae="FLUORO1",
        **kwargs,
    ).instance


@pytest.fixture
def stored(make_exam, tmp_path, settings):
    settings.NEPHRO_DICOM_DIR = tmp_path / "dicom"
    settings.NEPHRO_DICOM_CACHE_DIR = tmp_path / "cache"
    exam = make_exam(State.IN_PROGRESS)
    samples.image(
        tmp_path / "run.dcm",
        frames=5,
        rows=64,
        cols=64,
        accession=exam.accession_number,
        patient_id=exam.patient.mrn,
    )
    return exam, _store(tmp_path / "run.dcm")


def test_the_exam_page_shows_thumbnails_and_links_the_viewer(stored, people, login):
    exam, instance = stored
    page = login(people["radiologist"]).get(reverse("exams:detail", args=[exam.pk]))
    html = page.content.decode()
    assert "Images" in html and f"?instance={instance.pk}" in html
    assert reverse("dicom:viewer", args=[exam.pk]) in html


def test_the_viewer_and_frames_render(stored, people, login):
    exam, instance = stored
    client = login(people["referrer"])
    page = client.get(reverse("dicom:viewer", args=[exam.pk]), {"instance": instance.pk})
    assert page.status_code == 200 and b"Frame" in page.content
    frame = client.get(
        reverse("dicom:frame", args=[exam.pk]),
        {"instance": instance.pk, "frame": 3, "wc": 2000, "ww": 1000},
    )
    assert frame.status_code == 200 and frame.content.startswith(b"\x89PNG")
    assert frame["X-Window"] == "2000/1000"
    auto = client.get(reverse("dicom:frame", args=[exam.pk]), {"instance": instance.pk})
    assert auto.status_code == 200
    thumb = client.get(reverse("dicom:thumbnail", args=[exam.pk]), {"instance": instance.pk})
    assert thumb.content.startswith(b"\x89PNG")
    # One audit row for this image in this session, not one per frame.
    assert AuditEvent.objects.filter(action="dicom.image.read").count() == 1
    assert AuditEvent.objects.filter(action="dicom.viewer.read").count() == 1


def test_the_worker_caches_the_thumbnail(stored):
    _, instance = stored
    assert run_pending(["dicom.thumbnail"]) == 1
    instance.refresh_from_db()
    assert (settings.NEPHRO_DICOM_CACHE_DIR / instance.thumbnail).is_file()


def test_an_unrelated_referrer_cannot_see_the_images(stored, people, login):
    exam, instance = stored
    client = login(people["other_referrer"])
    assert client.get(reverse("dicom:viewer", args=[exam.pk])).status_code == 404
    frame = client.get(reverse("dicom:frame", args=[exam.pk]), {"instance": instance.pk})
    assert frame.status_code == 404


def test_an_image_of_another_exam_is_not_served(stored, make_exam, people, login):
    _, instance = stored
    other = make_exam(State.IN_PROGRESS)
    client = login(people["radiologist"])
    response = client.get(reverse("dicom:frame", args=[other.pk]), {"instance": instance.pk})
    assert response.status_code == 404


def test_staff_link_unmatched_images_to_an_exam(make_exam, people, login, tmp_path, settings):
    settings.NEPHRO_DICOM_DIR = tmp_path / "dicom"
    exam = make_exam(State.IN_PROGRESS)
    samples.image(
        tmp_path / "x.dcm", rows=32, cols=32, accession="WRONG", patient_id=exam.patient.mrn
    )
    samples.dose_report(
        tmp_path / "sr.dcm",
        accession="WRONG",
        patient_id=exam.patient.mrn,
        study_uid=__import__("pydicom").dcmread(tmp_path / "x.dcm").StudyInstanceUID,
    )
    image, report = _store(tmp_path / "x.dcm"), _store(tmp_path / "sr.dcm")
    assert image.exam is None and report.exam is None
    client = login(people["tech"])
    listing = client.get(reverse("dicom:reconcile"))
    assert exam.accession_number.encode() in listing.content  # offered as a candidate
    response = client.post(
        reverse("dicom:link"),
        {"study_uid": image.study_instance_uid, "accession": exam.accession_number},
    )
    assert response.status_code == 302
    image.refresh_from_db()
    assert image.exam == exam
    event = AuditEvent.objects.get(action="dicom.link")
    assert event.detail["instances"] == 2 and event.username == "tom"
    run_pending()
    exam.procedure.refresh_from_db()
    assert exam.procedure.dose_source == "rdsr"
    assert b"No images are waiting" in client.get(reverse("dicom:reconcile")).content


def test_linking_to_an_unknown_accession_changes_nothing(people, login):
    response = login(people["tech"]).post(
        reverse("dicom:link"), {"study_uid": "1.2.3", "accession": "nope"}, follow=True
    )
    assert b"Not linked" in response.content


def test_patients_and_admins_cannot_reach_reconciliation(people, login, client):
    for who in ("patient", "admin", "referrer"):
        client.force_login(people[who])
        assert client.get(reverse("dicom:reconcile")).status_code == 403


@pytest.mark.parametrize(
    "sop_class",
    ["1.2.840.10008.5.1.4.1.1.88.22", "1.2.840.10008.5.1.4.1.1.88.33"],
    ids=["enhanced-sr", "comprehensive-sr"],
)
def test_linking_a_dose_report_in_an_enhanced_or_comprehensive_sr_reads_its_dose(
    sop_class, make_exam, people, tmp_path, settings
):
    """Vendors send the dose report (TID 10001) in these classes too (sop.py)."""
    from pydicom import dcmread

    from nephro.dicom import reconcile
    from nephro.jobs import queue

    settings.NEPHRO_DICOM_DIR = tmp_path / "dicom"
    exam = make_exam(State.IN_PROGRESS)
    samples.dose_report(tmp_path / "sr.dcm", accession="WRONG", patient_id=exam.patient.mrn)
    ds = dcmread(tmp_path / "sr.dcm")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    report = _store(tmp_path / "sr.dcm")
    assert report.exam is None and not report.audit_pending
    queued = len(queue.jobs(kind="dicom.rdsr"))  # read at once: no exam to fill yet
    reconcile.link(Actor(user=people["tech"]), study_uid=report.study_instance_uid, exam=exam)
    assert len(queue.jobs(kind="dicom.rdsr")) == queued + 1  # and again, on the exam
    run_pending()
    exam.procedure.refresh_from_db()
    assert exam.procedure.dose_source == "rdsr"
    assert exam.procedure.fluoro_time_s == 95


def test_the_unmatched_list_pages_and_keeps_dicom_identifiers_from_nurses(
    people, login, tmp_path, settings, monkeypatch
):
    from nephro.lib import paging

    monkeypatch.setattr(paging, "PER_PAGE", 2)
    settings.NEPHRO_DICOM_DIR = tmp_path / "dicom"
    for n in range(3):
        samples.image(tmp_path / f"{n}.dcm", rows=16, cols=16, accession=f"NONE{n}")
        _store(tmp_path / f"{n}.dcm")
    uids = set(Instance.objects.values_list("study_instance_uid", flat=True))
    assert len(uids) == 3
    nurse = login(people["nurse"]).get(reverse("dicom:reconcile")).content.decode()
    assert "3 studies · page 1 of 2" in nurse
    assert "?page=2" in nurse
    assert not any(uid in nurse for uid in uids) and "FLUORO1" not in nurse
    tech = login(people["tech"])
    pages = [tech.get(reverse("dicom:reconcile"), {"page": n}).content.decode() for n in (1, 2)]
    shown = {uid for uid in uids if any(uid in page for page in pages)}
    assert shown == uids  # every study on one of the pages, in the folded identifiers
    assert "DICOM identifiers" in pages[0] and "FLUORO1" in pages[0]
