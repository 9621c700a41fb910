"""The tube form: impossible dates and sizes get a 400 with a message, never a 500."""

from datetime import timedelta

import pytest
from django.utils import timezone

from nephro.exams.lifecycle import State
from nephro.tubes.models import Tube

pytestmark = pytest.mark.django_db


def _form(**overrides):
    return {
        "side": "right",
        "kind": "nephrostomy",
        "size_fr": "10",
        "placed_on": timezone.localdate() - timedelta(days=3),
        "status": "in_place",
        "exchange_interval_days": "91",
        **overrides,
    }


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"placed_on": "9999-12-31", "exchange_interval_days": "32767"}, "cannot be in the future"),
        ({"placed_on": "0001-01-01"}, "too long ago"),
        ({"exchange_interval_days": "32767"}, "between 1 and 366 days"),
        ({"exchange_interval_days": "0"}, "between 1 and 366 days"),
        ({"exchange_due_on": "9999-12-31"}, "within two years"),
        ({"last_exchange_on": "9999-12-31"}, "cannot be in the future"),
        ({"placed_on": "99999-01-01"}, "Enter a valid date"),
        ({"size_fr": "99999999999999999999"}, "4-30 Fr"),
    ],
)
def test_it_answers_400_with_a_message(make_exam, people, login, overrides, message):
    patient = make_exam(State.ORDERED).patient
    response = login(people["nurse"]).post(f"/tubes/new/{patient.pk}/", _form(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Tube.objects.filter(patient=patient, side="right").exists()


def test_editing_keeps_the_tube_when_the_input_is_bad(make_exam, people, login):
    tube = make_exam(State.ORDERED).tube
    response = login(people["nurse"]).post(
        f"/tubes/{tube.pk}/edit/", _form(side="left", placed_on="9999-12-31")
    )
    assert response.status_code == 400
    tube.refresh_from_db()
    assert tube.placed_on < timezone.localdate()
