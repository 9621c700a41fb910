"""Tube registry writes: every change audited; the exchange due date follows the tube."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from nephro.audit.services import record
from nephro.tubes.models import CappingTrial, Tube, TubeKind, TubeStatus


def register_tube(request, form) -> Tube:
    tube = form.save()
    record(request, "tube.register", tube)
    return tube


def update_tube(request, form) -> Tube:
    tube = form.save()
    record(request, "tube.update", tube, detail={"fields": sorted(form.changed_data)})
    return tube


def apply_disposition(request, tube: Tube, decision: str) -> Tube:
    """Make the registry follow the radiologist's tube decision (DESIGN section 2)."""
    today = timezone.localdate()
    if decision == "remove":
        tube.status, tube.removed_on = TubeStatus.REMOVED, today
    elif decision == "cap":
        tube.status = TubeStatus.CAPPED
        # Capping after an antegrade stent is watched 8-12 h [DO](weak); nephroureteral
        # tubes were capped 12-94 days [MY]. The nurse sets the real end date.
        CappingTrial.objects.create(
            tube=tube, started_on=today, planned_end_on=today + timedelta(days=1)
        )
    elif decision == "exchange":
        tube.last_exchange_on = today
        tube.exchange_due_on = tube.next_due_from(today)
        tube.status = TubeStatus.IN_PLACE
    elif decision == "convert":
        tube.kind = TubeKind.NEPHROURETERAL
        tube.last_exchange_on = today
        tube.exchange_due_on = tube.next_due_from(today)
    # reposition and drain leave the tube in place as it is.
    tube.save()
    record(request, "tube.disposition", tube, detail={"decision": decision})
    return tube


def tubes_due(today: date | None = None) -> QuerySet[Tube]:
    """Active tubes overdue or due within the due-soon window, most urgent first."""
    today = today or timezone.localdate()
    horizon = today + timedelta(days=settings.NEPHRO_TUBE_DUE_SOON_DAYS)
    return (
        Tube.objects.exclude(status=TubeStatus.REMOVED)
        .filter(exchange_due_on__lte=horizon)
        .select_related("patient")
        .order_by("exchange_due_on")
    )
