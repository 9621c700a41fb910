"""Patient-facing text stays at grade 8 or below (clinical.md 11: NIH below 8th grade
[P63]; CDC at most 8th [OI]), measured with the Flesch-Kincaid grade from textstat.

Spanish has no grade formula in wide use; its equivalent is the Fernández-Huerta
score, where 60 and above reads as "normal" (about 8th grade) or easier.
"""

from __future__ import annotations

import pytest
import textstat
from django.core import mail
from django.utils import translation

from nephro.audit.actor import Actor
from nephro.exams.lifecycle import State
from nephro.followup.triage import SYMPTOMS, Urgency, headline
from nephro.portal.content import sections
from tests.conftest import make_patient
from tests.portal.readability import GRADE_LIMIT, as_prose, grade, html_blocks

SPANISH_EASE_MIN = 60.0


def _section_text(section) -> str:
    return as_prose(
        [section.heading, *section.paragraphs, *section.bullets, *[a for a in section.after if a]]
    )


@pytest.mark.parametrize("slug", [s.slug for s in sections()])
def test_each_information_section_is_grade_8_or_below(slug):
    with translation.override("en"):
        section = next(s for s in sections() if s.slug == slug)
        assert grade(_section_text(section)) <= GRADE_LIMIT


def test_the_whole_information_is_grade_8_or_below():
    with translation.override("en"):
        text = " ".join(_section_text(s) for s in sections())
    assert grade(text) <= GRADE_LIMIT


def test_the_triage_instructions_are_grade_8_or_below():
    with translation.override("en"):
        blocks = [str(s.label) for s in SYMPTOMS] + [str(s.advice) for s in SYMPTOMS]
        blocks += [headline(u) for u in Urgency]
    assert grade(as_prose(blocks)) <= GRADE_LIMIT


def test_the_spanish_information_reads_as_easily():
    with translation.override("es"):
        text = " ".join(_section_text(s) for s in sections())
    textstat.set_lang("es")
    try:
        assert textstat.fernandez_huerta(text) >= SPANISH_EASE_MIN
    finally:
        textstat.set_lang("en")


def _pages(client, people, make_exam, anon):
    """Every patient-facing page, rendered as the patient sees it."""
    from datetime import date

    from nephro.followup import services

    patient = make_patient(people["patient"], sex="F", born=date(1990, 1, 1))
    before = make_exam(State.ORDERED, patient=patient)
    after = make_exam(State.COMPLETED, patient=patient)
    client.force_login(people["patient"])
    pages = {
        "home": client.get("/"),
        "exam": client.get(f"/my/exams/{after.pk}/"),
        "questionnaire": client.get(f"/my/exams/{before.pk}/questionnaire/"),
        "check-in": client.get(f"/my/exams/{after.pk}/check-in/"),
        "not found": client.get("/my/exams/999999/"),
        "information": anon.get("/info/nephrostogram/"),
        "bad link": anon.get("/invite/nope/"),
    }
    for code in ["breathing", "fever", "site", "blood", ""]:
        checkin = services.record_checkin(
            Actor(user=people["patient"]), after.pk, symptoms=[code] if code else []
        )
        pages[f"result {checkin.urgency}"] = client.get(f"/my/check-ins/{checkin.pk}/")
    return pages


@pytest.mark.django_db
def test_every_patient_page_is_grade_8_or_below(client, people, make_exam, anon):
    pages = _pages(client, people, make_exam, anon)
    grades = {}
    for name, response in pages.items():
        assert response.status_code in (200, 404, 410), name
        grades[name] = grade(as_prose(html_blocks(response.content.decode())))
    too_hard = {name: g for name, g in grades.items() if g > GRADE_LIMIT}
    assert not too_hard, f"above grade {GRADE_LIMIT}: {too_hard}"


@pytest.mark.django_db
def test_the_patient_e_mails_are_grade_8_or_below(people, make_exam, mailoutbox):
    from datetime import timedelta

    from nephro.followup import jobs
    from nephro.portal import services

    services.invite_patient(
        Actor(user=people["nurse"]),
        make_patient(email="a@example.org").pk,
        email="a@example.org",
        language="en",
    )
    exam = make_exam(State.COMPLETED)
    exam.patient.email = "p@example.org"
    exam.patient.save()
    jobs.schedule_checkins(exam.completed_at)
    jobs.send_checkin_requests(exam.completed_at + timedelta(hours=24))
    jobs.send_checkin_requests(exam.completed_at + timedelta(hours=36))
    assert len(mail.outbox) == 3
    for message in mail.outbox:
        lines = [line for line in message.body.splitlines() if line and "://" not in line]
        assert grade(as_prose(lines)) <= GRADE_LIMIT, message.subject
