"""The worklist: HOLD tags for open blocking flags only; search, paging and counts."""

import pytest

from nephro.audit.actor import Actor
from nephro.exams.lifecycle import State
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


def test_the_worklist_pages_and_counts(people, make_exam, login):
    for _ in range(3):
        make_exam()
    client = login(people["nurse"])
    text = client.get("/exams/").content.decode()
    assert "3 exams" in text
