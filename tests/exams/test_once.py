"""Back + submit again on the order form makes no second order or exam."""

import pytest

from nephro.exams.models import Exam, Order
from nephro.lib.once import MESSAGE
from tests.conftest import make_patient, order_form

pytestmark = pytest.mark.django_db


def test_an_order_form_sent_twice_makes_one_order(people, login):
    patient = make_patient(registered_by=people["referrer"])
    client = login(people["referrer"])
    form = order_form(side="both", tube_left="", tube_right="")
    first = client.post(f"/exams/order/{patient.pk}/", form)
    again = client.post(f"/exams/order/{patient.pk}/", form, follow=True)
    assert first.status_code == 302 and again.status_code == 200
    assert Order.objects.count() == 1 and Exam.objects.count() == 2
    assert MESSAGE in again.content.decode()


def _token(response) -> str:
    text = response.content.decode()
    start = text.index('name="submission" value="') + len('name="submission" value="')
    return text[start : start + 36]


def test_the_form_fetched_again_keeps_its_token_and_says_it_was_sent(people, login):
    patient = make_patient(registered_by=people["referrer"])
    client = login(people["referrer"])
    url = f"/exams/order/{patient.pk}/"
    token = _token(client.get(url))
    assert _token(client.get(url)) == token  # Back fetches the page again: same token
    form = order_form(submission=token)
    client.post(url, form)
    again = client.get(url)
    assert _token(again) == token and "You already sent this form" in again.content.decode()
    fresh = client.get(url, {"again": token})
    assert _token(fresh) != token and "You already sent" not in fresh.content.decode()
    assert _token(client.get(url, {"again": token})) == _token(fresh)
