"""The patient class on the order form (outpatient, inpatient, emergency department) and
on the exam page."""

import pytest
from django.urls import reverse

from nephro.exams.lifecycle import State
from nephro.exams.models import Order
from tests.conftest import make_patient, order_form

pytestmark = pytest.mark.django_db


def test_the_form_asks_in_plain_words_with_outpatient_chosen(people, login):
    patient = make_patient(registered_by=people["referrer"])
    html = login(people["referrer"]).get(reverse("exams:order", args=[patient.pk]))
    html = html.content.decode()
    assert "Patient type" in html
    for words in ("Outpatient", "Inpatient (on a ward)", "Emergency department"):
        assert words in html
    assert '<option value="outpatient" selected>' in html


@pytest.mark.parametrize("patient_class", ["outpatient", "inpatient", "emergency"])
def test_the_form_saves_each_patient_class(people, login, patient_class):
    patient = make_patient(registered_by=people["referrer"])
    response = login(people["referrer"]).post(
        reverse("exams:order", args=[patient.pk]), order_form(patient_class=patient_class)
    )
    assert response.status_code == 302
    assert Order.objects.get(patient=patient).patient_class == patient_class


@pytest.mark.parametrize("patient_class", ["ward", ""])
def test_the_form_refuses_a_bad_or_missing_patient_class(people, login, patient_class):
    patient = make_patient(registered_by=people["referrer"])
    response = login(people["referrer"]).post(
        reverse("exams:order", args=[patient.pk]), order_form(patient_class=patient_class)
    )
    assert response.status_code == 400
    html = response.content.decode()
    message = (
        "Choose outpatient, inpatient or emergency department."
        if patient_class
        else "This field is required."
    )
    assert message in html
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("patient_class", "words"),
    [("inpatient", "Inpatient (on a ward)"), ("emergency", "Emergency department")],
)
def test_the_exam_page_shows_the_patient_class(people, login, make_exam, patient_class, words):
    exam = make_exam(State.SCHEDULED)
    client = login(people["nurse"])

    def head() -> str:
        """The exam's heading, where the indication and urgency are shown."""
        html = client.get(reverse("exams:detail", args=[exam.pk])).content.decode()
        start = html.index('class="exam-head"')
        return html[start : html.index("</p>", start)]

    assert "Routine · Outpatient" in " ".join(head().split())
    Order.objects.filter(pk=exam.order_id).update(patient_class=patient_class)
    assert words in head() and "Outpatient" not in head()
