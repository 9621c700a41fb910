"""Images in, suggestion out: received or uploaded images are analysed in the background
and the radiologist confirms or overrides the verdict (both recorded)."""

from pathlib import Path

import pytest
from django.urls import reverse

from nephro.analysis import generate_case
from nephro.audit.models import AuditEvent
from nephro.dicom.models import Instance
from nephro.drainage.models import AnalysisReview, DrainageAnalysis
from nephro.exams.lifecycle import State
from nephro.jobs.queue import run_pending

pytestmark = pytest.mark.django_db


@pytest.fixture
def phantom(tmp_path):
    def make(exam, scenario="patent", seed=3, **extra) -> list[Path]:
        out = tmp_path / f"case-{exam.pk}"
        generate_case(
            scenario,
            seed,
            out,
            size=128,
            max_run_frames=20,
            layout="multiframe",
            syntax="explicit",
            side=exam.side,  # the images show the exam's kidney
            patient_id=exam.patient.mrn,
            patient_name=exam.patient.dicom_name,
            accession_number=exam.accession_number,
            study_instance_uid=exam.study_instance_uid,
            **extra,
        )
        return sorted(p for p in out.rglob("*.dcm"))

    return make


def _upload(client, exam, paths):
    handles = [p.open("rb") for p in paths]
    try:
        return client.post(reverse("dicom:upload", args=[exam.pk]), {"files": handles}, follow=True)
    finally:
        for h in handles:
            h.close()


def test_it_analyses_uploaded_images_and_shows_the_suggestion(people, make_exam, login, phantom):
    exam = make_exam(State.COMPLETED)
    client = login(people["radiologist"])
    response = _upload(client, exam, phantom(exam))
    assert "stored" in response.content.decode()
    assert Instance.objects.filter(exam=exam, has_pixels=True).exists()
    run_pending()
    analysis = DrainageAnalysis.objects.get(exam=exam)
    assert analysis.state == "done", analysis.error
    assert analysis.verdict in {"drains", "delayed", "obstructed", "indeterminate"}
    assert analysis.result["frames"] > 1 and Path(analysis.picture).exists()
    page = client.get(reverse("reports:findings", args=[exam.pk])).content.decode()
    assert "Drainage analysis" in page and analysis.get_verdict_display() in page
    png = client.get(reverse("drainage:picture", args=[exam.pk]))
    assert b"".join(png.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"


def test_it_records_a_confirmation_and_an_override(people, make_exam, login, phantom):
    exam = make_exam(State.COMPLETED)
    client = login(people["radiologist"])
    _upload(client, exam, phantom(exam))
    run_pending()
    analysis = DrainageAnalysis.objects.get(exam=exam)
    other = next(v for v in ("drains", "obstructed") if v != analysis.verdict)
    bad = client.post(reverse("drainage:review", args=[exam.pk]), {"decision": "override"})
    assert bad.status_code == 400 and not AnalysisReview.objects.exists()
    client.post(
        reverse("drainage:review", args=[exam.pk]),
        {"decision": "override", "verdict": other, "reason": "Bladder seen on film"},
    )
    review = AnalysisReview.objects.get()
    assert (review.decision, review.verdict) == ("override", other)
    assert AuditEvent.objects.filter(action="drainage.review").exists()
    again = client.post(reverse("drainage:review", args=[exam.pk]), {"decision": "confirm"})
    assert "already reviewed" in again.content.decode()


def test_it_refuses_a_garbage_upload_and_keeps_what_is_stored(
    people, make_exam, login, phantom, tmp_path
):
    exam = make_exam(State.COMPLETED)
    client = login(people["tech"])
    _upload(client, exam, phantom(exam))
    before = Instance.objects.count()
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom at all" * 20)
    response = _upload(client, exam, [junk])
    assert "Not stored: junk.dcm" in response.content.decode()
    assert Instance.objects.count() == before


def test_it_links_uploaded_images_from_another_study_to_this_exam(
    people, make_exam, login, phantom, tmp_path
):
    exam = make_exam(State.COMPLETED)
    other = make_exam(State.ORDERED)
    paths = phantom(other)  # headers name the other exam's study, but the patient uploads here
    generate_case(
        "patent",
        5,
        tmp_path / "x",
        size=96,
        max_run_frames=6,
        layout="single",
        patient_id=exam.patient.mrn,
        patient_name=exam.patient.dicom_name,
        accession_number="NOPE",
        study_instance_uid="1.2.3.4.5.6.7",
    )
    loose = sorted((tmp_path / "x").rglob("*.dcm"))
    login(people["tech"])
    client = login(people["tech"])
    _upload(client, exam, loose)
    assert Instance.objects.filter(exam=exam).count() == len(loose)
    assert paths  # the other exam's files exist but were not uploaded


def test_two_reviews_at_the_same_moment_keep_one_and_refuse_the_other(
    people, make_exam, login, phantom
):
    from nephro.audit.actor import Actor
    from nephro.drainage import services
    from nephro.exams.services import WorkflowError

    exam = make_exam(State.COMPLETED)
    _upload(login(people["radiologist"]), exam, phantom(exam))
    run_pending()
    first, second = (DrainageAnalysis.objects.get(exam=exam) for _ in range(2))
    assert not hasattr(second, "review")  # read before the first review was saved
    actor = Actor(user=people["radiologist"])
    services.review(actor, first, decision="confirm", verdict="", reason="")
    with pytest.raises(WorkflowError, match="already reviewed"):
        services.review(actor, second, decision="confirm", verdict="", reason="")
    assert AnalysisReview.objects.count() == 1
