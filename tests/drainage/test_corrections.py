"""The radiologist corrects the analysis's outlines: the analysis runs again on them,
both versions are kept and audited, and bad outlines are refused with nothing stored."""

import json

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from nephro.audit.models import AuditEvent
from nephro.drainage.models import DrainageAnalysis
from nephro.exams.lifecycle import State
from nephro.jobs.queue import run_pending
from tests.drainage.test_drainage import _upload, phantom  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysed(people, make_exam, login, phantom):  # noqa: F811
    exam = make_exam(State.COMPLETED)
    _upload(login(people["radiologist"]), exam, phantom(exam))
    run_pending()
    original = DrainageAnalysis.objects.get(exam=exam)
    assert original.state == "done", original.error
    return exam, original


def _caption_band(picture: str):
    with Image.open(picture) as image:
        return np.asarray(image.convert("L"))[:34]


def _post(client, exam, body):
    return client.post(
        reverse("drainage:correct", args=[exam.pk]),
        data=body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
    )


def test_the_viewer_gets_the_outlines_and_the_read_is_audited(people, login, analysed):
    exam, original = analysed
    client = login(people["tech"])  # a technologist may see the overlays
    data = client.get(reverse("drainage:outlines", args=[exam.pk])).json()
    assert data["analysis"] == original.pk
    assert data["outlines"]["source_shape"] == [128, 128]
    assert data["outlines"]["collecting_system"]
    assert data["used"] == "Outlines as found by the analysis"
    assert AuditEvent.objects.filter(action="drainage.outlines.read").exists()
    viewer = client.get(reverse("dicom:viewer", args=[exam.pk])).content.decode()
    assert 'id="outline-tools"' in viewer and "outline-recompute" not in viewer


def test_a_correction_keeps_both_versions_and_is_audited(people, login, analysed):
    exam, original = analysed
    client = login(people["radiologist"])
    before = dict(original.result)
    response = _post(
        client,
        exam,
        {
            "analysis": original.pk,
            "outlines": {"bladder_in_field": False},
            "reason": "bladder below the field",
        },
    )
    assert response.status_code == 200, response.content
    corrected = DrainageAnalysis.objects.get(pk=response.json()["analysis"])
    assert corrected.corrects == original and corrected.corrected_by == people["radiologist"]
    assert corrected.correction_reason == "bladder below the field"
    assert corrected.outlines == {"bladder_in_field": False}
    assert (
        corrected.result["bladder_arrival_s"] is None
        and corrected.result["outlines"]["bladder"] == []
    )
    original.refresh_from_db()
    assert original.result == before  # the analysis's own version is unchanged
    # Each evidence picture is captioned with whose outlines it used: different words.
    bands = [_caption_band(a.picture) for a in (original, corrected)]
    assert all((band < 128).any() for band in bands) and (bands[0] != bands[1]).any()
    event = AuditEvent.objects.get(action="drainage.correct")
    assert event.detail["corrects"] == original.pk and event.detail["bladder_in_field"] is False
    # The current suggestion is the corrected one, and it says so, beside the original.
    findings = client.get(reverse("reports:findings", args=[exam.pk])).content.decode()
    assert "Outlines corrected by" in findings and "bladder below the field" in findings
    review = client.get(reverse("drainage:review", args=[exam.pk])).content.decode()
    assert "Versions of the analysis" in review and "current" in review
    assert "Outlines as found by the analysis" in review
    # A correction of an analysis that is no longer the current one is refused.
    stale = _post(client, exam, {"analysis": original.pk, "outlines": {}})
    assert stale.status_code == 400 and "newer analysis" in stale.json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "request"),
        ("[1, 2]", "JSON object"),
        ({"outlines": {}}, "no analysis"),
        ({"outlines": {"bladder": [[[1, 1], [2, 2]]]}}, "at least 3 points"),
        ({"outlines": {"bladder": [[[1, 1], [2, 2], [900, 1]]]}}, "outside the 128x128 image"),
        ({"outlines": "bladder"}, "JSON object"),
        ({"outlines": {"collecting_system": []}}, "cannot be removed"),
    ],
)
def test_bad_outlines_are_refused_and_nothing_is_stored(people, login, analysed, body, message):
    exam, original = analysed
    if isinstance(body, dict) and body != {"outlines": {}}:
        body = {"analysis": original.pk, **body}
    response = _post(login(people["radiologist"]), exam, body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert DrainageAnalysis.objects.filter(exam=exam).count() == 1
    assert not AuditEvent.objects.filter(action="drainage.correct").exists()


def test_only_a_radiologist_may_correct(people, login, analysed):
    exam, original = analysed
    response = _post(login(people["tech"]), exam, {"analysis": original.pk, "outlines": {}})
    assert response.status_code == 403
    assert DrainageAnalysis.objects.filter(exam=exam).count() == 1


def test_an_analysis_stored_before_outlines_were_kept_cannot_be_corrected(people, login, analysed):
    exam, original = analysed
    original.result.pop("outlines")
    original.save()
    client = login(people["radiologist"])
    assert client.get(reverse("drainage:outlines", args=[exam.pk])).json()["outlines"] == {}
    response = _post(client, exam, {"analysis": original.pk, "outlines": {}})
    assert response.status_code == 400 and "no analysis with outlines" in response.json()["error"]
