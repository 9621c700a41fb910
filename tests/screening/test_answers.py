"""Screening services take plain answers, not forms (issue 19)."""

import pytest

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.exams.services import WorkflowError
from nephro.screening import services
from nephro.screening.models import Screening, Source
from tests.conftest import staff_answers

pytestmark = pytest.mark.django_db


def test_an_unknown_answer_is_refused_and_nothing_is_stored(make_exam, people):
    exam = make_exam(State.ORDERED)
    with pytest.raises(WorkflowError, match="unknown screening answers: exam"):
        services.save_screening(Actor(user=people["nurse"]), exam.pk, {"exam": None})
    assert not Screening.objects.filter(exam=exam).exists()
    exam.refresh_from_db()
    assert exam.state == State.ORDERED


def test_a_review_records_only_the_answers_the_nurse_changed(make_exam, people):
    exam = make_exam(State.ORDERED)
    answers = staff_answers(pregnancy="not_applicable", other_allergies="Latex")
    services.save_screening(Actor(user=people["nurse"]), exam.pk, answers, source=Source.PATIENT)
    corrected = {**answers, "inr": staff_answers(inr="1.4")["inr"]}
    services.review_patient_screening(Actor(user=people["nurse"]), exam.pk, corrected)
    event = AuditEvent.objects.filter(action="screening.review").get()
    assert event.detail["changed"] == ["inr"]
    screening = Screening.objects.get(exam=exam)
    assert str(screening.inr) == "1.40" and screening.other_allergies == "Latex"
    assert screening.reviewed_by == people["nurse"]
