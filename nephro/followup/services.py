"""Every write of recovery follow-up: check-ins, alerts, acknowledgement, duty. Atomic, audited."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from nephro.accounts.roles import Role
from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams.services import WorkflowError, locked_exam
from nephro.followup.escalation import NOT_REACHED, escalate
from nephro.followup.models import Action, Alert, CheckIn, ContactAttempt, Duty
from nephro.followup.triage import BY_CODE, ESCALATING, triage
from nephro.lib import once

# Temperatures outside this range are typing mistakes, not readings (clinical.md 6 uses
# 38.0 C as the fever line; these limits only catch impossible values).
TEMPERATURE_MIN_C = Decimal("30.0")
TEMPERATURE_MAX_C = Decimal("45.0")


def check_temperature(value_c: Decimal | None) -> None:
    if value_c is not None and not TEMPERATURE_MIN_C <= value_c <= TEMPERATURE_MAX_C:
        raise WorkflowError("a body temperature is between 30 and 45 °C (86 and 113 °F)")


def record_checkin(
    actor: Actor,
    exam_id: int,
    *,
    symptoms: list[str],
    temperature_c: Decimal | None = None,
    notes: str = "",
    by_phone: bool = False,
    submission: UUID | None = None,
) -> CheckIn:
    """Store the answers, triage them, and open an alert when staff must look.

    The answers fill the oldest scheduled check-in that is due and unanswered, or
    become a check-in of their own. The same form sent again with the same answers
    raises once.AlreadySubmitted(the first check-in): one check-in, one alert. With other
    answers it is new information and is kept.
    """
    unknown = [code for code in symptoms if code not in BY_CODE]
    if unknown:
        raise WorkflowError(f"unknown symptom {unknown[0]!r}")
    check_temperature(temperature_c)
    now = timezone.now()
    submission = once.with_answers(submission, sorted(symptoms), temperature_c, notes.strip())
    with locked_exam(exam_id) as exam, once.consume(CheckIn, submission):
        if exam.completed_at is None:
            raise WorkflowError("check-ins start after the study")
        checkin = (
            exam.checkins.select_for_update()
            .filter(answered_at__isnull=True, due_at__lte=now)
            .order_by("due_at")
            .first()
        ) or CheckIn(exam=exam, offset_hours=0)
        result = triage(symptoms, temperature_c)
        checkin.answered_at = now
        checkin.answered_by = actor.user
        checkin.by_phone = by_phone
        checkin.symptoms = list(dict.fromkeys(symptoms))
        checkin.temperature_c = temperature_c
        checkin.notes = notes
        checkin.urgency = result.urgency
        checkin.submission = submission
        checkin.save()
        record(
            actor,
            "checkin.submit",
            checkin,
            detail={"urgency": result.urgency, "symptoms": checkin.symptoms, "phone": by_phone},
        )
        if result.alerts_staff:
            alert = Alert.objects.create(
                checkin=checkin, exam=exam, urgency=result.urgency, raised_at=now
            )
            record(actor, "alert.raise", alert, detail={"urgency": result.urgency})
    return checkin


def acknowledge_alert(
    actor: Actor, alert_id: int, *, action: str, note: str, submission: UUID | None = None
) -> Alert:
    """Close the alert with what was done; "could not reach" keeps it open (see below)."""
    if action not in Action.values:
        raise WorkflowError("choose the action taken")
    if not note.strip():
        raise WorkflowError("add a note about what was done")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().select_related("exam__patient").get(pk=alert_id)
        if alert.acknowledged_at is not None:
            raise WorkflowError(
                f"this alert was already acknowledged by {alert.acknowledged_by} "
                f"at {timezone.localtime(alert.acknowledged_at):%H:%M}"
            )
        if action == Action.NO_ANSWER:
            _not_reached(actor, alert, note.strip(), submission)
            return alert
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = actor.user
        alert.action = action
        alert.note = note.strip()
        alert.save()
        record(actor, "alert.acknowledge", alert, detail={"action": action, "note": alert.note})
    return alert


def _not_reached(actor: Actor, alert: Alert, note: str, submission: UUID | None) -> None:
    """The patient was not reached: the alert stays open, and an urgent or emergency
    one goes to the radiologist on duty at once (triage.ESCALATING decides which)."""
    now = timezone.now()
    with once.consume(ContactAttempt, submission):
        attempt = ContactAttempt.objects.create(
            alert=alert, by=actor.user, at=now, note=note, submission=submission
        )
        record(actor, "alert.not_reached", alert, detail={"attempt": attempt.pk, "note": note})
        if alert.urgency in ESCALATING:
            escalate(actor, alert, now, NOT_REACHED)


def set_duty(actor: Actor, on_duty: bool) -> Duty:
    if actor.user.role != Role.RADIOLOGIST:
        raise WorkflowError("only radiologists go on duty")
    with transaction.atomic():
        duty, _ = Duty.objects.select_for_update().get_or_create(
            radiologist=actor.user, defaults={"since": timezone.now()}
        )
        if duty.on_duty != on_duty:
            duty.on_duty = on_duty
            duty.since = timezone.now()
            duty.save()
        record(actor, "duty.set", duty, detail={"on_duty": on_duty})
    return duty
