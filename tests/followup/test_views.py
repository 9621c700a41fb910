"""The staff pages: triage list, acknowledge, phone check-in, exam section, duty."""

from datetime import timedelta

import pytest
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.followup import services
from nephro.followup.models import Alert, CheckIn

pytestmark = pytest.mark.django_db


def _alert(exam, people, symptoms, minutes_ago=0):
    services.record_checkin(Actor(user=people["patient"]), exam.pk, symptoms=symptoms)
    alert = Alert.objects.order_by("-pk").first()
    Alert.objects.filter(pk=alert.pk).update(
        raised_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return alert


def test_the_triage_list_orders_by_urgency_then_age(make_exam, people, login):
    exam = make_exam(State.COMPLETED)
    old_contact = _alert(exam, people, ["pain"], minutes_ago=300)
    new_urgent = _alert(exam, people, ["fever"], minutes_ago=5)
    old_urgent = _alert(exam, people, ["tube_moved"], minutes_ago=50)
    emergency = _alert(exam, people, ["breathing"], minutes_ago=1)
    text = login(people["nurse"]).get("/followup/").content.decode()
    positions = [
        text.index(f"/followup/alerts/{a.pk}/acknowledge/")
        for a in (emergency, old_urgent, new_urgent, old_contact)
    ]
    assert positions == sorted(positions)


def test_a_nurse_acknowledges_from_the_page(make_exam, people, login):
    exam = make_exam(State.COMPLETED)
    alert = _alert(exam, people, ["fever"])
    client = login(people["nurse"])
    page = client.get(f"/followup/alerts/{alert.pk}/acknowledge/")
    assert "Call the care team today" in page.content.decode()
    missing = client.post(f"/followup/alerts/{alert.pk}/acknowledge/", {"action": "called"})
    assert missing.status_code == 400
    response = client.post(
        f"/followup/alerts/{alert.pk}/acknowledge/",
        {"action": "called", "note": "Paracetamol, recheck tomorrow"},
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert not alert.is_open
    assert "No open alerts." in client.get("/followup/").content.decode()


def test_the_nurse_dashboard_shows_open_alerts(make_exam, people, login):
    exam = make_exam(State.COMPLETED)
    alert = _alert(exam, people, ["no_drainage"])
    text = login(people["nurse"]).get("/").content.decode()
    assert "Triage: open alerts" in text and f"/followup/alerts/{alert.pk}/" in text


def test_a_nurse_checks_in_by_phone(make_exam, people, login):
    exam = make_exam(State.COMPLETED)
    client = login(people["nurse"])
    response = client.post(
        f"/followup/exams/{exam.pk}/check-in/",
        {"symptoms": ["breathing"], "unit": "C"},
        follow=True,
    )
    text = response.content.decode()
    assert "Tell the patient: Call emergency services now" in text
    checkin = CheckIn.objects.get()
    assert checkin.by_phone and checkin.answered_by == people["nurse"]
    assert "(phone, Nina)" in client.get(f"/exams/{exam.pk}/").content.decode()
    event = AuditEvent.objects.get(action="checkin.submit")
    assert (event.username, event.on_behalf_of) == ("nina", f"patient:{exam.patient.mrn}")


def test_a_phone_check_in_with_an_impossible_temperature_keeps_nothing(make_exam, people, login):
    exam = make_exam(State.COMPLETED)
    response = login(people["nurse"]).post(
        f"/followup/exams/{exam.pk}/check-in/", {"temperature": "3", "unit": "C"}
    )
    assert response.status_code == 400 and not CheckIn.objects.exists()


def test_the_exam_page_shows_follow_up(make_exam, people, login):
    exam = make_exam(State.COMPLETED)
    _alert(exam, people, ["rash"])
    text = login(people["referrer"]).get(f"/exams/{exam.pk}/").content.decode()
    assert "Follow-up" in text and "Rash or itching" in text


def test_a_radiologist_goes_on_duty(people, login):
    client = login(people["radiologist"])
    client.post("/followup/duty/", {"on_duty": "1"})
    assert people["radiologist"].duty.on_duty
    assert "On duty: Rita" in client.get("/followup/").content.decode()
