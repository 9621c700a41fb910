"""An exam is linked to its tube: chosen when ordering, or later on the exam page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.exams.models import Exam
from nephro.tubes.models import Tube
from tests.conftest import make_patient, order_form

pytestmark = pytest.mark.django_db


def _tube(patient, side="left"):
    today = timezone.localdate()
    return Tube.objects.create(
        patient=patient, side=side, size_fr=10, placed_on=today, exchange_due_on=today
    )


def test_the_order_form_links_the_chosen_tube(people, login):
    patient = make_patient(registered_by=people["referrer"])
    older, newer = _tube(patient), _tube(patient)
    form = order_form(tube_left=str(older.pk))
    page = login(people["referrer"]).get(f"/exams/order/{patient.pk}/").content.decode()
    assert f'<option value="{newer.pk}" selected>' in page
    login(people["referrer"]).post(f"/exams/order/{patient.pk}/", form)
    assert Exam.objects.get().tube == older


def test_another_patients_tube_cannot_be_chosen(people, login):
    patient = make_patient(registered_by=people["referrer"])
    foreign = _tube(make_patient())
    form = order_form(tube_left=str(foreign.pk))
    response = login(people["referrer"]).post(f"/exams/order/{patient.pk}/", form)
    assert response.status_code == 400 and not Exam.objects.exists()


def test_a_nurse_links_an_existing_tube_on_the_exam_page(people, make_exam, login):
    exam = make_exam(State.COMPLETED)
    Exam.objects.filter(pk=exam.pk).update(tube=None)
    tube = _tube(exam.patient)
    client = login(people["nurse"])
    assert "Link the tube" in client.get(f"/exams/{exam.pk}/").content.decode()
    response = client.post(f"/exams/{exam.pk}/tube/", {"tube": str(tube.pk)})
    assert response.status_code == 302
    exam.refresh_from_db()
    assert exam.tube == tube
    assert AuditEvent.objects.filter(action="exam.tube", patient_ref=exam.patient_id).exists()


def test_a_nurse_registers_a_new_tube_for_the_exam(people, make_exam, login):
    exam = make_exam(State.COMPLETED)
    Exam.objects.filter(pk=exam.pk).update(tube=None)
    placed = timezone.localdate() - timedelta(days=10)
    response = login(people["nurse"]).post(
        f"/exams/{exam.pk}/tube/",
        {"tube": "new", "kind": "nephrostomy", "size_fr": "8", "placed_on": placed},
    )
    assert response.status_code == 302
    exam.refresh_from_db()
    assert exam.tube.size_fr == 8 and exam.tube.side == exam.side
    assert exam.tube.patient == exam.patient


def test_a_tube_of_the_other_side_or_bad_input_is_refused(people, make_exam, login):
    exam = make_exam(State.COMPLETED)
    Exam.objects.filter(pk=exam.pk).update(tube=None)
    right = _tube(exam.patient, side="right")
    client = login(people["nurse"])
    assert client.post(f"/exams/{exam.pk}/tube/", {"tube": str(right.pk)}).status_code == 400
    assert client.post(f"/exams/{exam.pk}/tube/", {"tube": "new"}).status_code == 400
    exam.refresh_from_db()
    assert exam.tube is None
