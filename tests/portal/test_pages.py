"""The patient pages: public information, the handout, check-ins from the page."""

import io
import re

import pytest
from django.utils import timezone
from pypdf import PdfReader

from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.followup.models import CheckIn

pytestmark = pytest.mark.django_db


def test_the_information_is_public(anon):
    response = anon.get("/info/nephrostogram/")
    assert response.status_code == 200
    text = response.content.decode()
    for fact in (
        "What is a nephrostogram?",
        "You can eat and drink as usual",
        "aspirin, Coumadin (warfarin) or arthritis medicines",
        "Take off metal things",
        "scout film",
        "hold your breath",
        "pressure or a mild ache",
        "take the tube out right after",
        "small amount of radiation",
        "slight chance of infection",
        "A radiologist does the test",
        "A radiologic technologist helps",
        "Call 911 (emergency services)",
        "555-0100",
        "We will check on you 1 and 3 days after the test.",
    ):
        assert fact in text, fact


def test_the_information_is_in_spanish_with_a_switch(anon):
    anon.cookies["django_language"] = "es"
    text = anon.get("/info/nephrostogram/").content.decode()
    assert "¿Qué es un nefrostograma?" in text
    assert 'name="language" value="en"' in text  # the way back to English
    english = anon.post("/i18n/setlang/", {"language": "en", "next": "/info/nephrostogram/"})
    assert english.status_code == 302


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_handout_is_personal(make_exam, login, people):
    exam = make_exam(State.SCHEDULED)
    client = login(people["patient"])
    response = client.get(f"/my/exams/{exam.pk}/handout.pdf")
    assert response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content)
    when = timezone.localtime(exam.scheduled_at)
    assert str(when.year) in text and ("10 a.m." in text or "10:00" in text)
    assert "Left kidney" in text and "555-0100" in text and "Given" in text
    assert "Who does the test" in text
    assert AuditEvent.objects.filter(action="portal.handout", patient_ref=exam.patient_id).exists()


def test_the_handout_speaks_spanish(make_exam, login, people):
    exam = make_exam(State.SCHEDULED)
    client = login(people["patient"])
    client.cookies["django_language"] = "es"
    text = _pdf_text(client.get(f"/my/exams/{exam.pk}/handout.pdf").content)
    assert "Riñón izquierdo" in text and "¿Qué es un nefrostograma?" in text


def test_staff_can_print_the_handout(make_exam, login, people):
    exam = make_exam(State.ORDERED)
    response = login(people["nurse"]).get(f"/my/exams/{exam.pk}/handout.pdf")
    assert response.status_code == 200
    assert "We will tell you the date and time." in _pdf_text(response.content)


def test_the_home_page_shows_the_next_step(make_exam, login, people):
    exam = make_exam(State.COMPLETED)
    text = login(people["patient"]).get("/").content.decode()
    assert f"/my/exams/{exam.pk}/check-in/" in text
    assert "Tell us how you are" in text


def test_a_check_in_with_difficulty_breathing_shows_the_emergency_instruction(
    make_exam, login, people
):
    exam = make_exam(State.COMPLETED)
    client = login(people["patient"])
    response = client.post(
        f"/my/exams/{exam.pk}/check-in/", {"symptoms": ["breathing", "ache"], "unit": "C"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'class="urgency urgency-emergency" role="alert"' in page
    assert "Call emergency services now: dial 911." in page
    assert 'href="tel:911"' in page


def test_an_impossible_temperature_is_refused_and_the_answers_stay(make_exam, login, people):
    exam = make_exam(State.COMPLETED)
    response = login(people["patient"]).post(
        f"/my/exams/{exam.pk}/check-in/",
        {"symptoms": ["pain"], "temperature": "380", "unit": "C", "notes": "sore since noon"},
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "That temperature does not look right" in text
    assert "sore since noon" in text
    assert re.search(r'value="pain"[^>]*checked', text)
    assert not CheckIn.objects.exists()


def test_a_fahrenheit_fever_counts(make_exam, login, people):
    exam = make_exam(State.COMPLETED)
    login(people["patient"]).post(
        f"/my/exams/{exam.pk}/check-in/", {"temperature": "101.2", "unit": "F"}
    )
    checkin = CheckIn.objects.get()
    assert str(checkin.temperature_c) == "38.4" and checkin.urgency == "urgent"


def test_check_ins_wait_for_the_study(make_exam, login, people):
    exam = make_exam(State.SCHEDULED)
    response = login(people["patient"]).post(
        f"/my/exams/{exam.pk}/check-in/", {"symptoms": ["pain"]}
    )
    assert "after your test" in response.content.decode()
    assert not CheckIn.objects.exists()


def test_the_exam_page_lists_her_check_ins(make_exam, login, people):
    exam = make_exam(State.COMPLETED)
    client = login(people["patient"])
    client.post(f"/my/exams/{exam.pk}/check-in/", {"symptoms": ["blood"], "unit": "C"})
    text = client.get(f"/my/exams/{exam.pk}/").content.decode()
    assert "This is normal after the test." in text
    assert "See what to do" in text
