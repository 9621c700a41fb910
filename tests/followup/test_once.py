"""Back + submit again: one check-in, one alert; an alert per check-in, by the database."""

from uuid import uuid4

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.exams.lifecycle import State
from nephro.followup import services
from nephro.followup.models import Alert, CheckIn
from nephro.lib.once import MESSAGE, AlreadySubmitted

pytestmark = pytest.mark.django_db


def test_a_phone_check_in_sent_twice_keeps_one_check_in_and_one_alert(make_exam, people, login):
    exam = make_exam(State.COMPLETED)
    client = login(people["nurse"])
    form = {"symptoms": ["fever"], "unit": "C", "submission": str(uuid4())}
    first = client.post(f"/followup/exams/{exam.pk}/check-in/", form)
    again = client.post(f"/followup/exams/{exam.pk}/check-in/", form, follow=True)
    assert first.status_code == 302 and again.status_code == 200
    assert CheckIn.objects.count() == 1 and Alert.objects.count() == 1
    assert MESSAGE in again.content.decode()


def test_the_service_refuses_a_repeated_token(make_exam, people):
    exam = make_exam(State.COMPLETED)
    token = uuid4()
    first = services.record_checkin(
        Actor(user=people["patient"]), exam.pk, symptoms=["tube_moved"], submission=token
    )
    with pytest.raises(AlreadySubmitted) as caught:
        services.record_checkin(
            Actor(user=people["patient"]), exam.pk, symptoms=["tube_moved"], submission=token
        )
    assert caught.value.record == first
    assert Alert.objects.filter(exam=exam).count() == 1


def test_the_database_refuses_a_second_alert_for_one_check_in(make_exam, people):
    exam = make_exam(State.COMPLETED)
    checkin = services.record_checkin(Actor(user=people["patient"]), exam.pk, symptoms=["fever"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(checkin=checkin, exam=exam, urgency="urgent", raised_at=timezone.now())


def test_the_database_refuses_a_second_check_in_with_one_token(make_exam):
    exam = make_exam(State.COMPLETED)
    token = uuid4()
    CheckIn.objects.create(exam=exam, submission=token)
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckIn.objects.create(exam=exam, submission=token)


def test_a_patients_check_in_sent_twice_keeps_one_alert(make_exam, people, login):
    exam = make_exam(State.COMPLETED)
    client = login(people["patient"])
    url = f"/my/exams/{exam.pk}/check-in/"
    page = client.get(url).content.decode()
    start = page.index('name="submission" value="') + len('name="submission" value="')
    form = {"symptoms": ["no_drainage"], "unit": "C", "submission": page[start : start + 36]}
    first = client.post(url, form)
    again = client.post(url, form)
    assert again.status_code == 302 and again.url == first.url
    assert CheckIn.objects.count() == 1 and Alert.objects.count() == 1


def test_the_same_form_with_new_answers_is_kept(make_exam, people):
    exam = make_exam(State.COMPLETED)
    token, patient = uuid4(), Actor(user=people["patient"])
    services.record_checkin(patient, exam.pk, symptoms=["pain"], submission=token)
    services.record_checkin(patient, exam.pk, symptoms=["tube_moved"], submission=token)
    assert CheckIn.objects.count() == 2
    assert sorted(Alert.objects.values_list("urgency", flat=True)) == ["contact", "urgent"]
