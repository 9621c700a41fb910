"""Reads for the staff triage list: open alerts by urgency and age, work waiting."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, IntegerField, QuerySet, Value, When

from nephro.exams.lifecycle import State
from nephro.followup.models import Alert, CheckIn
from nephro.followup.triage import RANK
from nephro.screening.models import Screening, Source

_RANK = Case(
    *[When(urgency=code, then=Value(rank)) for code, rank in RANK.items()],
    output_field=IntegerField(),
)


def open_alerts() -> QuerySet[Alert]:
    """Unacknowledged alerts: most urgent first, then oldest first."""
    return (
        Alert.objects.filter(acknowledged_at__isnull=True)
        .select_related("exam__patient", "checkin", "checkin__answered_by")
        .prefetch_related("attempts__by")
        .annotate(rank_value=_RANK)
        .order_by("-rank_value", "raised_at", "pk")
    )


def acknowledged() -> QuerySet[Alert]:
    """Acknowledged alerts, latest first."""
    return (
        Alert.objects.filter(acknowledged_at__isnull=False)
        .select_related("exam__patient", "acknowledged_by", "checkin")
        .order_by("-acknowledged_at", "-pk")
    )


def questionnaires_to_review() -> QuerySet[Screening]:
    return (
        Screening.objects.filter(source=Source.PATIENT, reviewed_by__isnull=True)
        .filter(exam__state__in=[State.ORDERED, State.SCREENED, State.SCHEDULED, State.ON_HOLD])
        .select_related("exam__patient")
        .order_by("updated_at", "pk")
    )


def checkins_waiting(now: datetime) -> QuerySet[CheckIn]:
    """Scheduled check-ins that are due and unanswered: call these patients."""
    return (
        CheckIn.objects.filter(answered_at__isnull=True, due_at__lte=now)
        .exclude(exam__state__in=[State.CLOSED, State.CANCELLED])
        .select_related("exam__patient")
        .order_by("due_at", "pk")
    )
