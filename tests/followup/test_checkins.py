"""Recording check-ins: triage, alerts, bad input that changes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.exams.services import WorkflowError
from nephro.followup import services
from nephro.followup.models import Alert, CheckIn

pytestmark = pytest.mark.django_db


def test_it_opens_an_emergency_alert_for_difficulty_breathing(make_exam, as_user):
    exam = make_exam(State.COMPLETED)
    checkin = services.record_checkin(as_user("patient"), exam.pk, symptoms=["breathing", "ache"])
    assert checkin.urgency == "emergency"
    alert = Alert.objects.get(checkin=checkin)
    assert alert.urgency == "emergency" and alert.is_open
    assert AuditEvent.objects.filter(action="checkin.submit", patient_ref=exam.patient_id).exists()
    assert AuditEvent.objects.filter(action="alert.raise").exists()


def test_it_raises_no_alert_for_expected_symptoms(make_exam, as_user):
    exam = make_exam(State.COMPLETED)
    checkin = services.record_checkin(as_user("patient"), exam.pk, symptoms=["blood"])
    assert checkin.urgency == "expected"
    assert not Alert.objects.exists()


def test_it_fills_the_scheduled_check_in_that_is_due(make_exam, as_user):
    exam = make_exam(State.COMPLETED)
    due = CheckIn.objects.create(
        exam=exam, offset_hours=24, due_at=timezone.now() - timedelta(minutes=5)
    )
    later = CheckIn.objects.create(
        exam=exam, offset_hours=72, due_at=timezone.now() + timedelta(hours=48)
    )
    checkin = services.record_checkin(as_user("nurse"), exam.pk, symptoms=[], by_phone=True)
    assert checkin.pk == due.pk and checkin.by_phone
    later.refresh_from_db()
    assert later.answered_at is None


def test_it_refuses_a_check_in_before_the_study(make_exam, as_user):
    exam = make_exam(State.SCHEDULED)
    with pytest.raises(WorkflowError, match="after the study"):
        services.record_checkin(as_user("patient"), exam.pk, symptoms=["fever"])
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("celsius", ["3.8", "29.9", "45.1", "99.0"])
def test_it_refuses_an_impossible_temperature_and_keeps_nothing(make_exam, as_user, celsius):
    exam = make_exam(State.COMPLETED)
    with pytest.raises(WorkflowError, match="between 30 and 45"):
        services.record_checkin(
            as_user("patient"), exam.pk, symptoms=["fever"], temperature_c=Decimal(celsius)
        )
    assert not CheckIn.objects.exists() and not Alert.objects.exists()


def test_it_refuses_an_unknown_symptom(make_exam, as_user):
    exam = make_exam(State.COMPLETED)
    with pytest.raises(WorkflowError, match="unknown symptom"):
        services.record_checkin(as_user("patient"), exam.pk, symptoms=["hiccups"])


def test_it_acknowledges_once_with_a_note_and_an_action(make_exam, as_user):
    exam = make_exam(State.COMPLETED)
    services.record_checkin(as_user("patient"), exam.pk, symptoms=["fever"])
    alert = Alert.objects.get()
    with pytest.raises(WorkflowError, match="note"):
        services.acknowledge_alert(as_user("nurse"), alert.pk, action="called", note=" ")
    with pytest.raises(WorkflowError, match="action"):
        services.acknowledge_alert(as_user("nurse"), alert.pk, action="shrug", note="x")
    services.acknowledge_alert(as_user("nurse"), alert.pk, action="clinic", note="Seen today")
    alert.refresh_from_db()
    assert alert.acknowledged_by.username == "nina" and alert.note == "Seen today"
    with pytest.raises(WorkflowError, match="already acknowledged by Nina"):
        services.acknowledge_alert(as_user("radiologist"), alert.pk, action="called", note="x")
    event = AuditEvent.objects.get(action="alert.acknowledge")
    assert event.patient_ref == exam.patient_id and event.detail["action"] == "clinic"


def test_only_radiologists_go_on_duty(people, as_user):
    with pytest.raises(WorkflowError):
        services.set_duty(as_user("nurse"), True)
    duty = services.set_duty(as_user("radiologist"), True)
    assert duty.on_duty
