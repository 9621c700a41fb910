"""Allergies and contrast reactions are kept on the patient and shown on every exam."""

import pytest

from nephro.audit.actor import Actor
from nephro.exams.lifecycle import State
from nephro.patients.models import AllergyKind
from nephro.screening import services
from tests.conftest import make_patient, staff_answers

pytestmark = pytest.mark.django_db

REACTION = {
    "prior_contrast_reaction": "on",
    "reaction_agent": "Iohexol",
    "reaction_description": "Hives",
    "reaction_timing": "2019, within 10 min",
    "other_allergies": "Penicillin",
}


def test_a_screened_reaction_shows_on_every_exam_of_the_patient(people, make_exam, login):
    patient = make_patient()
    first, second = make_exam(patient=patient), make_exam(patient=patient)
    services.save_screening(Actor(user=people["nurse"]), first.pk, staff_answers(**REACTION))
    kinds = sorted(patient.allergies.values_list("kind", "agent"))
    assert kinds == [(AllergyKind.CONTRAST, "Iohexol"), (AllergyKind.OTHER, "Penicillin")]
    text = login(people["nurse"]).get(f"/exams/{second.pk}/").content.decode()
    assert "contrast: Iohexol, Hives, 2019, within 10 min" in text and "Penicillin" in text


def test_the_same_answers_on_another_exam_keep_one_entry(people, make_exam):
    patient = make_patient()
    nurse = Actor(user=people["nurse"])
    for exam in (make_exam(patient=patient), make_exam(patient=patient)):
        services.save_screening(nurse, exam.pk, staff_answers(**REACTION))
    assert patient.allergies.count() == 2


def test_a_new_exams_screening_starts_from_the_known_reaction(people, make_exam, login):
    patient = make_patient()
    first = make_exam(State.SCREENED, patient=patient, screening_answers=REACTION)
    assert first.patient.allergies.exists()
    second = make_exam(patient=patient)
    text = login(people["nurse"]).get(f"/exams/{second.pk}/screening/").content.decode()
    assert 'value="Iohexol"' in text and 'id="id_prior_contrast_reaction" checked' in text
