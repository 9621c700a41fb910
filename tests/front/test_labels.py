"""No raw codes in the interface: quality notes, roles and outcomes show as words."""

import pytest
from django.urls import reverse

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.drainage.models import DrainageAnalysis

pytestmark = pytest.mark.django_db


def test_the_analysis_quality_notes_are_words(people, make_exam, client):
    exam = make_exam("completed")
    DrainageAnalysis.objects.create(
        exam=exam,
        state="done",
        verdict="drains",
        confidence=0.9,
        file_count=3,
        result={"reasons": [], "quality": ["log_encoded_pixels", "patient_motion_corrected"]},
    )
    client.force_login(people["radiologist"])
    html = client.get(reverse("exams:detail", args=[exam.pk])).content.decode()
    assert "pixel values are log-encoded; patient movement corrected" in html
    assert "log_encoded_pixels" not in html and "patient_motion_corrected" not in html


def test_the_audit_trail_shows_roles_and_outcomes_as_words(people, client):
    record(Actor(user=people["nurse"]), "exam.read")
    client.force_login(people["radiologist"])
    html = client.get(reverse("audit:search")).content.decode()
    assert "<td>Nurse</td>" in html and "<td>Success</td>" in html
    assert "<td>nurse</td>" not in html and "<td>success</td>" not in html


def test_a_bad_audit_filter_answers_400_with_a_message(people, client):
    client.force_login(people["radiologist"])
    response = client.get(reverse("audit:search"), {"outcome": "exploded"})
    assert response.status_code == 400
    assert "Choose the outcome from the list" in response.content.decode()
