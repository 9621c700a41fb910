"""Addenda to a final report: one per submit, and bad input answered with a message."""

from uuid import uuid4

import pytest

from nephro.exams.lifecycle import State
from nephro.lib.once import MESSAGE
from nephro.reports.models import Addendum

pytestmark = pytest.mark.django_db


def test_an_addendum_form_sent_twice_adds_one_addendum(make_exam, people, login):
    exam = make_exam(State.REPORTED)
    client = login(people["radiologist"])
    form = {"text": "Fragment seen on review.", "submission": str(uuid4())}
    first = client.post(f"/exams/{exam.pk}/report/addendum/", form)
    again = client.post(f"/exams/{exam.pk}/report/addendum/", form, follow=True)
    assert first.status_code == 302 and again.status_code == 200
    assert MESSAGE in again.content.decode()
    assert Addendum.objects.filter(report__exam=exam).count() == 1


def test_the_report_page_fetched_again_keeps_the_addendum_token(make_exam, people, login):
    exam = make_exam(State.REPORTED)
    client = login(people["radiologist"])
    token = client.get(f"/exams/{exam.pk}/report/").context["addendum_form"].initial["submission"]
    client.post(f"/exams/{exam.pk}/report/addendum/", {"text": "Clot.", "submission": str(token)})
    back = client.get(f"/exams/{exam.pk}/report/")
    assert back.context["addendum_form"].initial["submission"] == token
    assert "You already sent this form" in back.content.decode()
    fresh = client.get(f"/exams/{exam.pk}/report/?again={token}")
    assert fresh.context["addendum_form"].initial["submission"] != token


def test_a_second_addendum_with_a_new_token_is_added(make_exam, people, login):
    exam = make_exam(State.REPORTED)
    client = login(people["radiologist"])
    for text in ("First note.", "Second note."):
        client.post(
            f"/exams/{exam.pk}/report/addendum/", {"text": text, "submission": str(uuid4())}
        )
    assert Addendum.objects.filter(report__exam=exam).count() == 2


@pytest.mark.parametrize(
    "text,message", [("   ", "This field is required"), ("x" * 4001, "at most 4000 characters")]
)
def test_a_blank_or_too_long_addendum_is_refused_with_a_message(
    make_exam, people, login, text, message
):
    exam = make_exam(State.REPORTED)
    client = login(people["radiologist"])
    token = str(uuid4())
    response = client.post(
        f"/exams/{exam.pk}/report/addendum/", {"text": text, "submission": token}
    )
    assert response.status_code == 400 and message in response.content.decode()
    assert not Addendum.objects.filter(report__exam=exam).exists()
    # Nothing was consumed: the corrected form still goes through.
    fixed = client.post(f"/exams/{exam.pk}/report/addendum/", {"text": "Ok.", "submission": token})
    assert fixed.status_code == 302 and Addendum.objects.filter(report__exam=exam).count() == 1
