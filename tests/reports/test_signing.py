"""Deliberate signing: what is signed is the text on the screen, after a confirmation."""

import pytest
from django.urls import reverse

from nephro.audit.actor import Actor
from nephro.exams.lifecycle import State
from nephro.reports import services
from nephro.reports.models import Findings, Report
from tests.conftest import findings_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def drafted(make_exam, people):
    exam = make_exam(State.COMPLETED)
    services.save_findings(Actor(user=people["radiologist"]), exam.pk, findings_form())
    return exam


def _screen(report: Report, **changes) -> dict:
    return {
        "technique": report.technique,
        "findings_text": report.findings_text,
        "impression": report.impression,
        **changes,
    }


def test_sign_final_signs_the_edited_text_after_a_confirmation(drafted, people, login):
    client = login(people["radiologist"])
    report = drafted.report
    edited = _screen(report, impression="Drains freely. Tube may come out.")
    url = reverse("reports:sign", args=[drafted.pk])
    asked = client.post(url, {**edited, "final": "1"})
    assert asked.status_code == 200 and b"Drains freely. Tube may come out." in asked.content
    report.refresh_from_db()
    assert report.status == "draft"  # nothing signed before the confirmation
    done = client.post(url, {**edited, "final": "1", "confirm": "1"})
    assert done.status_code == 302
    report.refresh_from_db()
    assert report.status == "final"
    assert report.impression == "Drains freely. Tube may come out."


def test_sign_preliminary_signs_the_edited_text(drafted, people, login):
    client = login(people["radiologist"])
    edited = _screen(drafted.report, findings_text="Edited before signing.")
    client.post(reverse("reports:sign", args=[drafted.pk]), {**edited, "final": "0"})
    report = Report.objects.get(exam=drafted)
    assert report.status == "preliminary" and report.findings_text == "Edited before signing."


def test_signing_without_the_text_on_screen_is_refused(drafted, people, login):
    response = login(people["radiologist"]).post(
        reverse("reports:sign", args=[drafted.pk]), {"final": "1", "confirm": "1"}
    )
    assert response.status_code == 400
    assert Report.objects.get(exam=drafted).status == "draft"


def test_signing_refuses_contradictory_findings(drafted, people):
    Findings.objects.filter(exam=drafted).update(upj_passage="none", obstruction_level="upj")
    with pytest.raises(services.WorkflowError, match="UPJ"):
        services.sign(Actor(user=people["radiologist"]), drafted.pk, final=True)


def test_a_report_text_over_the_limit_is_refused(drafted, people, login, settings):
    settings.NEPHRO_REPORT_TEXT_MAX_CHARS = 1000
    huge = _screen(drafted.report, findings_text="x" * 2_400_000)
    client = login(people["radiologist"])
    saved = client.post(reverse("reports:edit", args=[drafted.pk]), huge)
    assert saved.status_code == 400 and b"at most 1000 characters" in saved.content
    signed = client.post(
        reverse("reports:sign", args=[drafted.pk]), {**huge, "final": "1", "confirm": "1"}
    )
    assert signed.status_code == 400
    report = Report.objects.get(exam=drafted)
    assert report.status == "draft" and len(report.findings_text) < 1000


def test_findings_with_an_unknown_field_or_value_are_refused(make_exam, people):
    exam = make_exam(State.COMPLETED)
    rad = Actor(user=people["radiologist"])
    with pytest.raises(services.WorkflowError, match="unknown findings: colour"):
        services.save_findings(rad, exam.pk, {**findings_form(), "colour": "blue"})
    with pytest.raises(services.WorkflowError, match="not valid"):
        services.save_findings(rad, exam.pk, {**findings_form(), "tube_position": "moon"})
    assert not Findings.objects.filter(exam=exam).exists()


def test_sign_final_from_the_preliminary_report_page_signs_the_text_shown(drafted, people, login):
    rad = Actor(user=people["radiologist"])
    services.sign(rad, drafted.pk, final=False)
    client = login(people["radiologist"])
    page = client.get(reverse("reports:view", args=[drafted.pk])).content.decode()
    report = Report.objects.get(exam=drafted)
    assert f'name="impression" value="{report.impression}"' in page
    url = reverse("reports:sign", args=[drafted.pk])
    asked = client.post(url, {**_screen(report), "final": "1"})
    assert b"Sign this report as final?" in asked.content
    client.post(url, {**_screen(report), "final": "1", "confirm": "1"})
    assert Report.objects.get(exam=drafted).status == "final"
