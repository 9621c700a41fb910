"""Back + submit again on the order form makes no second order or exam."""

from uuid import uuid4

import pytest

from nephro.exams.models import Exam, Order
from nephro.lib.once import MESSAGE
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


def test_an_order_form_sent_twice_makes_one_order(people, login):
    patient = make_patient(registered_by=people["referrer"])
    client = login(people["referrer"])
    form = {
        "side": "both",
        "indication": "routine",
        "clinical_question": "Patent?",
        "urgency": "routine",
        "tube_left": "",
        "tube_right": "",
        "submission": str(uuid4()),
    }
    first = client.post(f"/exams/order/{patient.pk}/", form)
    again = client.post(f"/exams/order/{patient.pk}/", form, follow=True)
    assert first.status_code == 302 and again.status_code == 200
    assert Order.objects.count() == 1 and Exam.objects.count() == 2
    assert MESSAGE in again.content.decode()
