"""The patient's own questionnaire feeds the screening rules only once a nurse reviews it."""

from datetime import date

import pytest

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.exams.services import WorkflowError
from nephro.screening import services as screening_services
from nephro.screening.models import Screening, Source
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def her_exam(people, make_exam):
    """Paula, 35 and female: she is asked about pregnancy."""
    patient = make_patient(people["patient"], sex="F", born=date(1990, 1, 1))
    return make_exam(State.ORDERED, patient=patient)


def test_her_answers_are_stored_but_raise_no_flag_until_reviewed(her_exam, login, people):
    client = login(people["patient"])
    page = client.get(f"/my/exams/{her_exam.pk}/questionnaire/")
    assert "Could you be pregnant?" in page.content.decode()
    response = client.post(
        f"/my/exams/{her_exam.pk}/questionnaire/",
        {"pregnancy": "possible", "anticoagulants": ["aspirin"], "fever_or_infection": "on"},
    )
    assert response.status_code == 302
    screening = Screening.objects.get(exam=her_exam)
    assert screening.source == Source.PATIENT and screening.reviewed_by is None
    assert screening.pregnancy == "possible" and screening.anticoagulants == ["aspirin"]
    her_exam.refresh_from_db()
    assert her_exam.state == State.ORDERED and not her_exam.flags.exists()


def test_a_nurse_review_makes_them_count(her_exam, login, people):
    login(people["patient"]).post(
        f"/my/exams/{her_exam.pk}/questionnaire/",
        {"pregnancy": "attested_not", "anticoagulants": ["warfarin"]},
    )
    nurse = login(people["nurse"])
    page = nurse.get(f"/followup/exams/{her_exam.pk}/questionnaire/")
    assert page.status_code == 200 and "Confirm review" in page.content.decode()
    data = {
        "pregnancy": "attested_not",
        "pregnancy_method": "Patient questionnaire (portal)",
        "anticoagulants": ["warfarin"],
        "other_allergies": "",
    }
    assert nurse.post(f"/followup/exams/{her_exam.pk}/questionnaire/", data).status_code == 302
    her_exam.refresh_from_db()
    assert her_exam.state == State.SCREENED
    assert list(her_exam.flags.values_list("code", flat=True)) == ["ANTICOAGULANT"]
    screening = her_exam.screening
    assert screening.source == Source.PATIENT and screening.reviewed_by == people["nurse"]
    assert AuditEvent.objects.filter(action="screening.review").exists()
    # Reviewed answers are closed to the patient; the page says so and changes nothing.
    again = login(people["patient"]).post(
        f"/my/exams/{her_exam.pk}/questionnaire/", {"pregnancy": "pregnant"}
    )
    assert "already gone over your answers" in again.content.decode()
    screening.refresh_from_db()
    assert screening.pregnancy == "attested_not"


def test_a_reviewed_fever_holds_the_exam(her_exam, people):
    from tests.conftest import staff_answers

    screening_services.save_screening(
        Actor(user=people["patient"]),
        her_exam.pk,
        staff_answers(pregnancy="attested_not", fever_or_infection="on"),
        source=Source.PATIENT,
    )
    screening_services.review_patient_screening(Actor(user=people["nurse"]), her_exam.pk)
    her_exam.refresh_from_db()
    assert her_exam.state == State.ON_HOLD
    assert "FEVER" in her_exam.hold_reason
    with pytest.raises(WorkflowError, match="already reviewed"):
        screening_services.review_patient_screening(Actor(user=people["nurse"]), her_exam.pk)


def test_review_needs_a_patient_questionnaire(make_exam, people):
    exam = make_exam(State.SCREENED)
    with pytest.raises(WorkflowError, match="no patient questionnaire"):
        screening_services.review_patient_screening(Actor(user=people["nurse"]), exam.pk)


def test_a_man_is_not_asked_about_pregnancy(make_exam, login, people):
    exam = make_exam(State.ORDERED)
    client = login(people["patient"])
    assert "pregnant" not in client.get(f"/my/exams/{exam.pk}/questionnaire/").content.decode()
    client.post(f"/my/exams/{exam.pk}/questionnaire/", {"anticoagulants": []})
    assert Screening.objects.get(exam=exam).pregnancy == "not_applicable"


def test_a_dye_reaction_needs_what_and_when_and_loses_nothing(her_exam, login, people):
    response = login(people["patient"]).post(
        f"/my/exams/{her_exam.pk}/questionnaire/",
        {
            "pregnancy": "unable",
            "prior_contrast_reaction": "on",
            "other_allergies": "latex",
        },
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "so we can keep you safe" in text
    assert 'value="latex"' in text  # what she typed is still there
    assert not Screening.objects.exists()


def test_the_questions_close_once_the_study_has_started(make_exam, login, people):
    exam = make_exam(State.IN_PROGRESS)
    response = login(people["patient"]).post(
        f"/my/exams/{exam.pk}/questionnaire/", {"anticoagulants": ["aspirin"]}
    )
    assert "for before the test" in response.content.decode()
    assert exam.screening.source == Source.STAFF
