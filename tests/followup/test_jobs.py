"""The periodic work: check-in requests and reminders, escalation, the tube digest.

Each function takes `now`, so time is chosen here; each is idempotent.
"""

import re
from datetime import datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.exams.models import Exam
from nephro.followup import jobs, services
from nephro.followup.models import Alert, CheckIn
from nephro.jobs import queue
from nephro.tubes.models import Tube
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def done_exam(make_exam):
    exam = make_exam(State.COMPLETED)
    exam.patient.email = "paula@example.org"
    exam.patient.save()
    return exam


def test_it_schedules_check_ins_at_24_and_72_hours_once(done_exam):
    now = done_exam.completed_at
    assert jobs.schedule_checkins(now) == 2
    assert jobs.schedule_checkins(now) == 0
    offsets = sorted(CheckIn.objects.values_list("offset_hours", "due_at"))
    assert offsets == [
        (24, done_exam.completed_at + timedelta(hours=24)),
        (72, done_exam.completed_at + timedelta(hours=72)),
    ]


def test_it_follows_the_configured_hours(done_exam, settings):
    settings.NEPHRO_CHECKIN_HOURS = [6]
    jobs.schedule_checkins(done_exam.completed_at)
    assert list(CheckIn.objects.values_list("offset_hours", flat=True)) == [6]


def test_it_asks_when_due_and_reminds_once(done_exam, mailoutbox):
    start = done_exam.completed_at
    jobs.schedule_checkins(start)
    assert jobs.send_checkin_requests(start + timedelta(hours=23)) == 0
    assert jobs.send_checkin_requests(start + timedelta(hours=24)) == 1
    assert jobs.send_checkin_requests(start + timedelta(hours=25)) == 0
    assert mailoutbox[0].to == ["paula@example.org"]
    assert f"/my/exams/{done_exam.pk}/check-in/" in mailoutbox[0].body
    # Unanswered 12 h later: one reminder, and only one.
    assert jobs.send_checkin_requests(start + timedelta(hours=36)) == 1
    assert jobs.send_checkin_requests(start + timedelta(hours=37)) == 0
    assert mailoutbox[1].subject.startswith("Reminder")
    assert AuditEvent.objects.filter(action="checkin.remind").count() == 1


def test_it_sends_no_reminder_once_answered(done_exam, mailoutbox, people):

    start = done_exam.completed_at
    jobs.schedule_checkins(start)
    with_time = start + timedelta(hours=24)
    jobs.send_checkin_requests(with_time)
    CheckIn.objects.filter(offset_hours=24).update(due_at=timezone.now() - timedelta(minutes=1))
    services.record_checkin(Actor(user=people["patient"]), done_exam.pk, symptoms=[])
    assert jobs.send_checkin_requests(start + timedelta(hours=40)) == 0
    assert len(mailoutbox) == 1


def test_it_writes_to_the_patient_in_their_language(done_exam, mailoutbox, people):
    from nephro.portal.models import Invitation

    Invitation.objects.create(
        patient=done_exam.patient,
        email="paula@example.org",
        language="es",
        token_hash="x" * 64,
        created_by=people["nurse"],
        created_at=timezone.now(),
        expires_at=timezone.now(),
    )
    jobs.schedule_checkins(done_exam.completed_at)
    jobs.send_checkin_requests(done_exam.completed_at + timedelta(hours=24))
    assert mailoutbox[0].subject == "¿Cómo está después de la prueba del tubo del riñón?"


def _urgent_alert(exam, people, symptoms=("fever",)):

    services.record_checkin(Actor(user=people["patient"]), exam.pk, symptoms=list(symptoms))
    return Alert.objects.get()


def test_it_escalates_an_unacknowledged_urgent_alert_to_the_radiologist_on_duty(
    done_exam, people, mailoutbox
):

    on_call = make_user("omar", "radiologist", email="omar@example.org")
    people["radiologist"].email = "rita@example.org"
    people["radiologist"].save()
    services.set_duty(Actor(user=on_call), True)
    alert = _urgent_alert(done_exam, people)
    raised = alert.raised_at
    assert jobs.escalate_alerts(raised + timedelta(minutes=29)) == 0
    assert jobs.escalate_alerts(raised + timedelta(minutes=30)) == 1
    assert jobs.escalate_alerts(raised + timedelta(minutes=45)) == 0
    alert.refresh_from_db()
    assert alert.escalated_to == ["omar"]
    assert mailoutbox[-1].to == ["omar@example.org"]
    assert done_exam.patient.mrn in mailoutbox[-1].subject
    assert f"/followup/alerts/{alert.pk}/acknowledge/" in mailoutbox[-1].body
    assert AuditEvent.objects.get(action="alert.escalate").detail["on_duty"] is True


def test_it_escalates_to_every_radiologist_when_nobody_is_on_duty(done_exam, people):
    make_user("omar", "radiologist")
    alert = _urgent_alert(done_exam, people, ("breathing",))
    jobs.escalate_alerts(alert.raised_at + timedelta(minutes=31))
    alert.refresh_from_db()
    assert alert.escalated_to == ["omar", "rita"]


def test_it_does_not_escalate_acknowledged_or_routine_alerts(done_exam, people):

    alert = _urgent_alert(done_exam, people, ("pain",))  # "contact": not escalated
    assert jobs.escalate_alerts(alert.raised_at + timedelta(hours=5)) == 0
    Alert.objects.all().delete()
    alert = _urgent_alert(done_exam, people, ("no_drainage",))
    services.acknowledge_alert(Actor(user=people["nurse"]), alert.pk, action="tube", note="ok")
    assert jobs.escalate_alerts(alert.raised_at + timedelta(hours=5)) == 0


def test_it_sends_the_tube_digest_once_a_day_after_the_hour(people, make_exam, mailoutbox):
    make_exam(State.SCHEDULED)
    people["nurse"].email = "nina@example.org"
    people["nurse"].save()
    today = timezone.localdate()
    Tube.objects.update(exchange_due_on=today - timedelta(days=3))
    early = timezone.make_aware(datetime.combine(today, datetime.min.time())) + timedelta(hours=6)
    assert jobs.send_tube_digest(early) == 0
    assert jobs.send_tube_digest(early + timedelta(hours=2)) == 1
    assert jobs.send_tube_digest(early + timedelta(hours=5)) == 0
    message = mailoutbox[0]
    assert message.to == ["nina@example.org"]
    assert "1 overdue" in message.subject
    tube = Tube.objects.get()
    assert tube.patient.mrn in message.body and tube.patient.family_name not in message.body
    assert jobs.send_tube_digest(early + timedelta(days=1, hours=2)) == 1
    assert jobs.send_tube_digest(early + timedelta(days=1, hours=3)) == 0


def _worker_once() -> str:
    out = StringIO()
    call_command("worker", "--once", stdout=out)
    return out.getvalue()


def test_the_worker_runs_the_follow_up_work_every_minute(done_exam, people, mailoutbox):

    people["radiologist"].email = "rita@example.org"
    people["radiologist"].save()
    Exam.objects.filter(pk=done_exam.pk).update(
        completed_at=timezone.now() - timedelta(hours=24, minutes=1)
    )
    alert = _urgent_alert(done_exam, people)
    Alert.objects.filter(pk=alert.pk).update(raised_at=timezone.now() - timedelta(minutes=31))
    # The clock stands still between passes, so both engines see one period, then the next.
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _worker_once()
        assert CheckIn.objects.filter(offset_hours__gt=0).count() == 2
        assert CheckIn.objects.get(offset_hours=24).requested_at is not None
        assert CheckIn.objects.get(offset_hours=72).requested_at is None
        alert.refresh_from_db()
        assert alert.escalated_to == ["rita"]
        assert sorted(m.to[0] for m in mailoutbox) == ["paula@example.org", "rita@example.org"]
        # Each runs once a minute, whatever the job engine: a second pass at once runs nothing.
        assert "ran 0 job(s)" in _worker_once()
        # A minute later they run again and, being idempotent, send nothing new.
        services.acknowledge_alert(
            Actor(user=people["nurse"]), alert.pk, action="called", note="ok"
        )
        clock.shift(timedelta(minutes=1))
        ran = int(re.search(r"ran (\d+) job", _worker_once()).group(1))
    assert ran >= 4  # the four follow-up jobs (and the engine's own, if it has one)
    assert not [j for j in queue.jobs(states=["failed"]) if j.kind.startswith("followup.")]
    assert len(mailoutbox) == 2
