""" "Could not reach the patient" keeps the alert open, and an urgent one goes up at once;
an open triage page fetches new alerts by itself."""

from uuid import uuid4

import pytest

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.followup import services
from nephro.followup.models import Alert, ContactAttempt

pytestmark = pytest.mark.django_db


def _alert(exam, people, symptoms):
    services.record_checkin(Actor(user=people["patient"]), exam.pk, symptoms=symptoms)
    return Alert.objects.get(exam=exam)


def test_an_urgent_alert_not_reached_stays_open_and_goes_to_the_radiologist_on_duty(
    make_exam, people, login, mailoutbox
):
    people["radiologist"].email = "rita@example.org"
    people["radiologist"].save()
    services.set_duty(Actor(user=people["radiologist"]), True)
    alert = _alert(make_exam(State.COMPLETED), people, ["fever"])
    client = login(people["nurse"])
    response = client.post(
        f"/followup/alerts/{alert.pk}/acknowledge/",
        {"action": "no_answer", "note": "Rang twice, voicemail", "submission": str(uuid4())},
        follow=True,
    )
    alert.refresh_from_db()
    assert alert.is_open and alert.escalated_to == ["rita"]
    assert "radiologist on duty" in response.content.decode()
    assert [m.to for m in mailoutbox] == [["rita@example.org"]]
    assert "could not reach the patient" in mailoutbox[0].body
    assert "Rang twice, voicemail" in mailoutbox[0].body
    assert AuditEvent.objects.filter(action="alert.not_reached").count() == 1
    triage = client.get("/followup/").content.decode()
    assert f"/followup/alerts/{alert.pk}/acknowledge/" in triage and "Not reached: 1 try" in triage


def test_a_contact_alert_not_reached_stays_open_without_escalating(make_exam, people):
    alert = _alert(make_exam(State.COMPLETED), people, ["rash"])
    services.acknowledge_alert(
        Actor(user=people["nurse"]), alert.pk, action="no_answer", note="No answer"
    )
    alert.refresh_from_db()
    assert alert.is_open and alert.escalated_at is None


def test_a_not_reached_form_sent_twice_records_one_try(make_exam, people, login):
    alert = _alert(make_exam(State.COMPLETED), people, ["tube_moved"])
    client = login(people["nurse"])
    form = {"action": "no_answer", "note": "No answer", "submission": str(uuid4())}
    client.post(f"/followup/alerts/{alert.pk}/acknowledge/", form)
    again = client.post(f"/followup/alerts/{alert.pk}/acknowledge/", form)
    assert again.status_code == 302
    assert ContactAttempt.objects.filter(alert=alert).count() == 1


def test_an_alert_reached_later_is_closed(make_exam, people):
    alert = _alert(make_exam(State.COMPLETED), people, ["fever"])
    nurse = Actor(user=people["nurse"])
    services.acknowledge_alert(nurse, alert.pk, action="no_answer", note="No answer")
    services.acknowledge_alert(nurse, alert.pk, action="called", note="Reached: to ED")
    alert.refresh_from_db()
    assert not alert.is_open and alert.attempts.count() == 1


def test_the_triage_page_polls_for_open_alerts(make_exam, people, login):
    client = login(people["nurse"])
    page = client.get("/followup/").content.decode()
    assert 'hx-get="/followup/alerts/"' in page and 'hx-trigger="every 20s"' in page
    alert = _alert(make_exam(State.COMPLETED), people, ["breathing"])
    part = client.get("/followup/alerts/", HTTP_HX_REQUEST="true").content.decode()
    assert f"/followup/alerts/{alert.pk}/acknowledge/" in part and "<html" not in part
