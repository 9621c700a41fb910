"""The periodic follow-up work, as plain idempotent functions.

Each is a periodic job of the shared queue (`@periodic` in nephro.jobs.queue), run every
minute by `nephro worker`, which runs one of each at a time; tests call each function
directly with a chosen `now`. Each step marks what it did (requested_at, reminded_at,
escalated_at under a row lock; the day's "tube.digest" audit event), so running it
again, or from a second worker, sends nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from nephro.accounts.models import User
from nephro.accounts.roles import Role
from nephro.audit.actor import FOLLOWUP
from nephro.audit.models import AuditEvent
from nephro.audit.services import record
from nephro.exams.lifecycle import State
from nephro.exams.models import Exam
from nephro.followup import mail
from nephro.followup.escalation import NOT_ACKNOWLEDGED, escalate
from nephro.followup.models import Alert, CheckIn
from nephro.followup.triage import ESCALATING
from nephro.jobs.queue import periodic
from nephro.tubes.services import due_digest

# Scheduled check-ins are not created, nor requested, for studies older than this.
LOOK_BACK = timedelta(days=7)
EVERY = timedelta(minutes=1)


@periodic("followup.schedule_checkins", every=EVERY)
def schedule_checkins(now: datetime | None = None) -> int:
    """Create the scheduled check-ins (default 24 h and 72 h) for recent studies."""
    now = now or timezone.now()
    hours = settings.NEPHRO_CHECKIN_HOURS
    since = now - timedelta(hours=max(hours, default=0)) - LOOK_BACK
    exams = Exam.objects.filter(completed_at__gte=since).exclude(
        state__in=[State.CLOSED, State.CANCELLED]
    )
    created = 0
    for exam in exams.select_related("patient"):
        for offset in hours:
            checkin, new = CheckIn.objects.get_or_create(
                exam=exam,
                offset_hours=offset,
                defaults={"due_at": exam.completed_at + timedelta(hours=offset)},
            )
            if new:
                created += 1
                record(FOLLOWUP, "checkin.schedule", checkin, detail={"hours": offset})
    return created


def _portal_link(exam: Exam) -> str:
    return f"{settings.NEPHRO_SITE_URL}/my/exams/{exam.pk}/check-in/"


def _ask(checkin: CheckIn, *, reminder: bool) -> bool:
    patient = checkin.exam.patient
    subject = (
        _("Reminder: how are you after your kidney tube test?")
        if reminder
        else _("How are you after your kidney tube test?")
    )
    sent = mail.send(
        [patient.email],
        subject,
        "followup/email/checkin_request.txt",
        {
            "patient": patient,
            "reminder": reminder,
            "has_account": patient.user_id is not None,
            "link": _portal_link(checkin.exam),
            "phone": settings.NEPHRO_DEPARTMENT_PHONE,
            "emergency": settings.NEPHRO_EMERGENCY_NUMBER,
        },
        language=patient.preferred_language,
    )
    return bool(sent)


def _open_checkins(now: datetime):
    return (
        CheckIn.objects.filter(
            answered_at__isnull=True, due_at__lte=now, due_at__gte=now - LOOK_BACK
        )
        .exclude(exam__state__in=[State.CLOSED, State.CANCELLED])
        .select_related("exam__patient")
    )


@periodic("followup.checkin_requests", every=EVERY)
def send_checkin_requests(now: datetime | None = None) -> int:
    """Ask once when a check-in falls due, and remind once if it stays unanswered."""
    now = now or timezone.now()
    sent = 0
    for pk in _open_checkins(now).filter(requested_at__isnull=True).values_list("pk", flat=True):
        with transaction.atomic():
            checkin = CheckIn.objects.select_for_update().select_related("exam__patient").get(pk=pk)
            if checkin.requested_at or checkin.answered_at:
                continue
            checkin.requested_at = now
            checkin.save(update_fields=["requested_at"])
            emailed = _ask(checkin, reminder=False)
            record(FOLLOWUP, "checkin.request", checkin, detail={"emailed": emailed})
            sent += emailed
    remind_before = now - timedelta(hours=settings.NEPHRO_CHECKIN_REMINDER_HOURS)
    reminders = _open_checkins(now).filter(
        requested_at__lte=remind_before, reminded_at__isnull=True
    )
    for pk in reminders.values_list("pk", flat=True):
        with transaction.atomic():
            checkin = CheckIn.objects.select_for_update().select_related("exam__patient").get(pk=pk)
            if checkin.reminded_at or checkin.answered_at:
                continue
            checkin.reminded_at = now
            checkin.save(update_fields=["reminded_at"])
            emailed = _ask(checkin, reminder=True)
            record(FOLLOWUP, "checkin.remind", checkin, detail={"emailed": emailed})
            sent += emailed
    return sent


@periodic("followup.escalate", every=EVERY)
def escalate_alerts(now: datetime | None = None) -> int:
    """Urgent and emergency alerts nobody acknowledged in time go to the radiologist on duty."""
    now = now or timezone.now()
    limit = now - timedelta(minutes=settings.NEPHRO_ESCALATION_MINUTES)
    overdue = Alert.objects.filter(
        acknowledged_at__isnull=True,
        escalated_at__isnull=True,
        urgency__in=list(ESCALATING),
        raised_at__lte=limit,
    )
    escalated = 0
    for pk in overdue.values_list("pk", flat=True):
        with transaction.atomic():
            alert = (
                Alert.objects.select_for_update()
                .select_related("exam__patient", "checkin")
                .get(pk=pk)
            )
            if alert.acknowledged_at or alert.escalated_at:
                continue
            escalate(FOLLOWUP, alert, now, NOT_ACKNOWLEDGED)
            escalated += 1
    return escalated


def digest_recipients() -> list[str]:
    if settings.NEPHRO_DIGEST_TO:
        return list(settings.NEPHRO_DIGEST_TO)
    nurses = User.objects.filter(role=Role.NURSE, is_active=True).exclude(email="")
    return list(nurses.order_by("username").values_list("email", flat=True))


@periodic("followup.tube_digest", every=EVERY)
def send_tube_digest(now: datetime | None = None) -> int:
    """Once a local day, after NEPHRO_DIGEST_HOUR: tubes overdue and due in the next 14 days.

    The day's "tube.digest" audit event marks it done; the queue runs one digest at a time.
    """
    local = timezone.localtime(now)
    if local.hour < settings.NEPHRO_DIGEST_HOUR:
        return 0
    today = local.date()
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    with transaction.atomic():
        done = Q(detail__day=today.isoformat()) | Q(at__gte=midnight)
        if AuditEvent.objects.filter(done, action="tube.digest").exists():
            return 0
        overdue, due_soon = due_digest(today)
        sent = 0
        if overdue or due_soon:
            sent = mail.send(
                digest_recipients(),
                f"Nephro tube digest {today:%Y-%m-%d}: {len(overdue)} overdue, "
                f"{len(due_soon)} due soon",
                "followup/email/tube_digest.txt",
                {
                    "overdue": overdue,
                    "due_soon": due_soon,
                    "today": today,
                    "days": settings.NEPHRO_TUBE_DUE_SOON_DAYS,
                },
                language="en",
            )
        record(
            FOLLOWUP,
            "tube.digest",
            detail={
                "day": today.isoformat(),
                "overdue": len(overdue),
                "due_soon": len(due_soon),
                "sent": sent,
            },
        )
    return sent
