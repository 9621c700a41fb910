"""No raw codes in the interface: quality notes, roles and outcomes show as words."""

import re
from html.parser import HTMLParser

import pytest
from django.apps import apps
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
        result={
            "reasons": [],
            "quality": [
                "log_encoded_pixels",
                "patient_motion_corrected",
                "film_polarity_from_content",
                "late_films_without_kidney_as_views",
            ],
        },
    )
    client.force_login(people["radiologist"])
    html = client.get(reverse("exams:detail", args=[exam.pk])).content.decode()
    assert "pixel values are log-encoded; patient movement corrected" in html
    assert "a film stored with black and white swapped was turned back" in html
    assert "late films that miss the kidney were read as views" in html
    assert "log_encoded_pixels" not in html and "patient_motion_corrected" not in html
    assert "film_polarity" not in html and "film polarity" not in html


def test_the_audit_trail_shows_roles_and_outcomes_as_words(people, client):
    record(Actor(user=people["nurse"]), "exam.read")
    client.force_login(people["radiologist"])
    html = client.get(reverse("audit:search")).content.decode()
    assert "<td>Nurse</td>" in html and "<td>Success</td>" in html
    assert ">exam: read</td>" in html
    found = client.get(reverse("audit:search"), {"action": "exam: read"}).content.decode()
    assert ">exam: read</td>" in found
    assert "<td>nurse</td>" not in html and "<td>success</td>" not in html


def test_a_bad_audit_filter_answers_400_with_a_message(people, client):
    client.force_login(people["radiologist"])
    response = client.get(reverse("audit:search"), {"outcome": "exploded"})
    assert response.status_code == 400
    assert "Choose the outcome from the list" in response.content.decode()


class _VisibleText(HTMLParser):
    """The words a person sees or hears: text, and aria-label/title/alt attributes."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.hidden += tag in ("script", "style")
        if tag == "a" and (attrs.get("href") or "").startswith("/"):
            self.links.append(attrs["href"].split("#")[0])
        self.parts += [attrs[k] for k in ("aria-label", "title", "alt") if attrs.get(k)]

    def handle_endtag(self, tag):
        self.hidden -= tag in ("script", "style")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def _codes() -> set[str]:
    """Every stored choice value that differs from its label and reads as a code."""
    return {
        value
        for model in apps.get_models()
        for field in model._meta.get_fields()
        for value, label in getattr(field, "choices", None) or []
        if isinstance(value, str) and "_" in value and value != label
    }


@pytest.mark.parametrize("username", ["nina", "rita", "tom", "alice", "paula"])
def test_no_page_shows_a_stored_code(people, make_exam, client, username, django_user_model):
    for state in ("on_hold", "in_progress", "follow_up"):
        make_exam(state, screening_answers={"pregnancy": "not_applicable"})
    codes = re.compile(r"\b(" + "|".join(sorted(_codes(), key=len, reverse=True)) + r")\b")
    client.force_login(django_user_model.objects.get(username=username))
    todo, seen = ["/"], set()
    while todo and len(seen) < 40:
        url = todo.pop(0)
        if url in seen or url.startswith(("/static/", "/logout")) or "." in url.rsplit("/", 1)[-1]:
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        page = _VisibleText()
        page.feed(response.content.decode())
        found = codes.search(" ".join(page.parts))
        assert not found, f"{url} shows the code {found.group(0)!r}"
        todo += page.links
