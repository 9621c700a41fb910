"""Sending an urgent alert to the radiologists on duty, for the periodic job (nobody
acknowledged it in time) and for a nurse who could not reach the patient.

The caller holds the alert's row lock; `triage.escalates` decides which urgencies go.
"""

from __future__ import annotations

from datetime import datetime

from nephro.accounts.models import User
from nephro.accounts.roles import Role
from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.followup import mail
from nephro.followup.models import Alert

# Why an alert goes up: the e-mail's first line.
NOT_ACKNOWLEDGED = "not_acknowledged"
NOT_REACHED = "not_reached"


def on_duty_radiologists() -> tuple[list[User], bool]:
    """(radiologists to escalate to, whether anyone was actually on duty)."""
    on_duty = list(
        User.objects.filter(role=Role.RADIOLOGIST, is_active=True, duty__on_duty=True).order_by(
            "username"
        )
    )
    if on_duty:
        return on_duty, True
    return list(
        User.objects.filter(role=Role.RADIOLOGIST, is_active=True).order_by("username")
    ), False


def escalate(actor: Actor, alert: Alert, now: datetime, why: str) -> None:
    """E-mail the on-duty radiologists (everyone when nobody is on duty); mark the alert."""
    radiologists, anyone_on_duty = on_duty_radiologists()
    alert.escalated_at = now
    alert.escalated_to = [r.username for r in radiologists]
    alert.save(update_fields=["escalated_at", "escalated_to"])
    mail.send(
        [r.email for r in radiologists],
        f"Nephro: {alert.get_urgency_display().lower()} alert "
        f"{'patient not reached' if why == NOT_REACHED else 'unacknowledged'} "
        f"({alert.exam.patient.mrn})",
        "followup/email/escalation.txt",
        {
            "alert": alert,
            "minutes": int((now - alert.raised_at).total_seconds() // 60),
            "on_duty": anyone_on_duty,
            "not_reached": why == NOT_REACHED,
            "attempts": list(alert.attempts.select_related("by")),
        },
        language="en",
    )
    record(
        actor,
        "alert.escalate",
        alert,
        detail={"to": alert.escalated_to, "on_duty": anyone_on_duty, "why": why},
    )
