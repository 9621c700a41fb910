"""The worklist: HOLD tags for open blocking flags only; search, paging and counts."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.exams.lifecycle import State
from nephro.exams.models import Exam
from nephro.screening import services as screening
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db

HOLD_TAG = '<span class="flag flag-hold">hold</span>'


def test_the_hold_tag_goes_once_the_radiologist_decided(people, make_exam, login):
    exam = make_exam(State.SCREENED)
    flag = exam.flags.create(code="FEVER", severity="hold", text="Fever", source="test")
    client = login(people["nurse"])
    assert HOLD_TAG in client.get("/exams/").content.decode()
    screening.decide_flag(
        Actor(user=people["radiologist"]), flag.pk, decision="proceed", reason="Afebrile now"
    )
    assert HOLD_TAG not in client.get("/exams/").content.decode()


def test_a_retired_flag_shows_no_hold_tag(people, make_exam, login):
    exam = make_exam(State.SCREENED)
    exam.flags.create(code="FEVER", severity="hold", text="Fever", source="test", active=False)
    assert HOLD_TAG not in login(people["nurse"]).get("/exams/").content.decode()


def test_it_finds_exams_by_name_in_any_order_mrn_and_accession(people, make_exam, login):
    patient = make_patient(family_name="Kowalski", given_name="Jan")
    exam = make_exam(patient=patient)
    other = make_exam()
    client = login(people["nurse"])
    for query in ("jan kowalski", "Kowalski Jan", patient.mrn, exam.accession_number):
        text = client.get("/exams/", {"q": query}).content.decode()
        assert exam.accession_number in text and other.accession_number not in text, query
        assert "1 exam</p>" in text


def test_a_word_under_three_letters_matches_the_start_of_a_name(people, make_exam, login):
    # One or two letters anywhere in a name match nearly everyone, and no trigram index
    # serves them: they match where a name starts ("Nowak, A": Anna, not Jan).
    anna = make_exam(patient=make_patient(family_name="Nowak", given_name="Anna"))
    jan = make_exam(patient=make_patient(family_name="Nowak", given_name="Jan"))
    kowalski = make_exam(patient=make_patient(family_name="Kowalski", given_name="Piotr"))
    client = login(people["nurse"])

    def found(query):
        text = client.get("/exams/", {"q": query}).content.decode()
        return {e for e in (anna, jan, kowalski) if e.accession_number in text}

    assert found("Nowak, A") == {anna}
    assert found("k") == {kowalski}
    assert found("ja") == {jan}
    assert found("owa") == {anna, jan, kowalski}  # three letters: anywhere in the name


def test_the_worklist_pages_and_counts(people, make_exam, login):
    for _ in range(3):
        make_exam()
    client = login(people["nurse"])
    text = client.get("/exams/").content.decode()
    assert "3 exams" in text


def test_an_undecided_hold_keeps_the_tag_beside_a_decided_one(people, make_exam, login):
    exam = make_exam(State.SCREENED)
    exam.flags.create(code="FEVER", severity="hold", text="Fever", source="t", decision="proceed")
    exam.flags.create(code="BLEED", severity="hold", text="Bleeding", source="t")
    exam.flags.create(code="INR", severity="warn", text="INR high", source="t")
    assert HOLD_TAG in login(people["nurse"]).get("/exams/").content.decode()


def test_today_runs_from_local_midnight_to_midnight(people, make_exam, login, settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # far from UTC: the day is not UTC's
    today = timezone.localdate()
    midnight = timezone.make_aware(datetime.combine(today, time.min))
    times = {
        "first": midnight,
        "last": midnight + timedelta(days=1) - timedelta(microseconds=1),
        "tomorrow": midnight + timedelta(days=1),
        "yesterday": midnight - timedelta(microseconds=1),
    }
    exams = {}
    for label, when in times.items():
        exams[label] = make_exam(State.SCHEDULED)
        Exam.objects.filter(pk=exams[label].pk).update(scheduled_at=when)
    text = login(people["nurse"]).get("/exams/", {"day": "today"}).content.decode()
    shown = {label for label, exam in exams.items() if exam.accession_number in text}
    assert shown == {"first", "last"}


def test_a_query_found_both_by_name_and_by_mrn_is_one_row(people, make_exam, login):
    patient = make_patient(family_name="Kowal", given_name="Jan", mrn="KOWAL7")
    make_exam(patient=patient)
    client = login(people["nurse"])
    assert ">1 exam<" in client.get("/exams/", {"q": "kowal"}).content.decode()
    assert ">1 patient<" in client.get("/patients/", {"q": "kowal"}).content.decode()
