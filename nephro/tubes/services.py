"""Tube registry writes: every change audited; the exchange due date follows the tube."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.lib import once
from nephro.lib.steps import Refused
from nephro.tubes.models import (
    CappingTrial,
    FailureReason,
    TrialOutcome,
    Tube,
    TubeKind,
    TubeStatus,
)


class TubeError(Refused):
    """A registry change Nephro refuses, with a message fit to show the user."""


@dataclass(frozen=True)
class TubeDetails:
    side: str
    kind: str
    size_fr: int
    placed_on: date
    last_exchange_on: date | None
    status: str
    exchange_interval_days: int
    exchange_due_on: date
    notes: str = ""


def register_tube(
    actor: Actor, patient_id: int, details: TubeDetails, *, submission: UUID | None = None
) -> Tube:
    """Add a tube to the registry; a repeated `submission` raises once.AlreadySubmitted."""
    with once.consume(Tube, submission):
        tube = Tube.objects.create(patient_id=patient_id, submission=submission, **vars(details))
        record(actor, "tube.register", tube)
    return tube


def update_tube(actor: Actor, tube_id: int, details: TubeDetails) -> Tube:
    with transaction.atomic():
        tube = Tube.objects.select_for_update().select_related("patient").get(pk=tube_id)
        changed = sorted(k for k, v in vars(details).items() if getattr(tube, k) != v)
        for name, value in vars(details).items():
            setattr(tube, name, value)
        tube.save()
        record(actor, "tube.update", tube, detail={"fields": changed})
    return tube


@dataclass(frozen=True)
class RegistryChange:
    """What a tube decision did to the registry, in words fit to show the radiologist."""

    tube: Tube | None
    updated: bool
    summary: str


# What each decision does to the tube's record, for the summary.
DECISION_EFFECT = {
    "remove": "removed",
    "cap": "capped, with a capping trial started",
    "exchange": "exchanged today; next exchange due {due}",
    "convert": "converted to nephroureteral; next exchange due {due}",
    "reposition": "left in place (repositioned)",
    "drain": "left in place on drainage",
}
NO_TUBE = (
    "No tube is linked to this exam, so the tube registry was not updated. "
    "Link the tube on the exam page to update it."
)


def apply_disposition(actor: Actor, tube: Tube | None, decision: str) -> RegistryChange:
    """Make the registry follow the radiologist's tube decision (DESIGN section 2), and
    say what it did; with no tube linked it changes nothing and says so."""
    if tube is None:
        return RegistryChange(None, updated=False, summary=NO_TUBE)
    _apply(tube, decision)
    record(actor, "tube.disposition", tube, detail={"decision": decision})
    effect = DECISION_EFFECT.get(decision, decision).format(due=tube.exchange_due_on)
    return RegistryChange(tube, updated=True, summary=f"Tube registry updated: {tube} {effect}.")


def _apply(tube: Tube, decision: str) -> None:
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


def due_digest(today: date) -> tuple[list[Tube], list[Tube]]:
    """(overdue, due within the due-soon window) for the list page and the daily e-mail."""
    tubes = list(tubes_due(today))
    return (
        [t for t in tubes if t.exchange_due_on < today],
        [t for t in tubes if t.exchange_due_on >= today],
    )


def start_capping_trial(
    actor: Actor,
    tube_id: int,
    *,
    started_on: date,
    planned_end_on: date,
    notes: str = "",
    submission: UUID | None = None,
) -> CappingTrial:
    """Cap the tube and open a clamp trial; one trial at a time per tube."""
    if planned_end_on < started_on:
        raise TubeError("the planned end cannot be before the start")
    with transaction.atomic():
        tube = Tube.objects.select_for_update().select_related("patient").get(pk=tube_id)
        once.refuse_repeat(CappingTrial, submission)
        if tube.status == TubeStatus.REMOVED:
            raise TubeError("this tube has been removed")
        if tube.capping_trials.filter(outcome=TrialOutcome.ONGOING).exists():
            raise TubeError("this tube already has a capping trial under way; close it first")
        with once.consume(CappingTrial, submission):
            trial = CappingTrial.objects.create(
                tube=tube,
                started_on=started_on,
                planned_end_on=planned_end_on,
                notes=notes,
                submission=submission,
            )
        tube.status = TubeStatus.CAPPED
        tube.save(update_fields=["status"])
        record(
            actor,
            "capping.start",
            trial,
            detail={"started": started_on.isoformat(), "planned_end": planned_end_on.isoformat()},
        )
    return trial


def close_capping_trial(
    actor: Actor,
    trial_id: int,
    *,
    outcome: str,
    ended_on: date,
    failure_reasons: list[str],
    notes: str = "",
) -> CappingTrial:
    """Record how the trial ended. A failed trial uncaps the tube (back to drainage)."""
    if outcome not in (TrialOutcome.PASSED, TrialOutcome.FAILED):
        raise TubeError("a trial ends as passed or failed")
    unknown = set(failure_reasons) - set(FailureReason.values)
    if unknown:
        raise TubeError(f"unknown failure reason {sorted(unknown)[0]!r}")
    if outcome == TrialOutcome.FAILED and not failure_reasons:
        raise TubeError("a failed trial needs at least one reason")
    if outcome == TrialOutcome.PASSED and failure_reasons:
        raise TubeError("a passed trial has no failure reasons")
    with transaction.atomic():
        trial = (
            CappingTrial.objects.select_for_update()
            .select_related("tube__patient")
            .get(pk=trial_id)
        )
        if trial.outcome != TrialOutcome.ONGOING:
            raise TubeError("this trial was already closed")
        if ended_on < trial.started_on:
            raise TubeError("the trial cannot end before it started")
        trial.outcome = outcome
        trial.ended_on = ended_on
        trial.failure_reasons = failure_reasons
        if notes.strip():
            trial.notes = f"{trial.notes}\n{notes}".strip()
        trial.save()
        tube = trial.tube
        if outcome == TrialOutcome.FAILED and tube.status == TubeStatus.CAPPED:
            tube.status = TubeStatus.IN_PLACE
            tube.save(update_fields=["status"])
        record(
            actor,
            "capping.close",
            trial,
            detail={"outcome": outcome, "reasons": failure_reasons, "ended": ended_on.isoformat()},
        )
    return trial


CSV_COLUMNS = [
    "mrn",
    "family_name",
    "given_name",
    "side",
    "kind",
    "size_fr",
    "placed_on",
    "last_exchange_on",
    "status",
    "exchange_interval_days",
    "exchange_due_on",
    "due_state",
    "removed_on",
    "capping_trial",
    "notes",
]


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ would run as a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def registry_rows(today: date) -> list[list[str]]:
    """The whole registry (removed tubes too) as CSV rows, header first."""
    rows = [CSV_COLUMNS]
    tubes = Tube.objects.select_related("patient").prefetch_related("capping_trials")
    for tube in tubes.order_by("patient__mrn", "placed_on", "pk"):
        trial = next(iter(tube.capping_trials.all()), None)
        rows.append(
            [
                _cell(v)
                for v in (
                    tube.patient.mrn,
                    tube.patient.family_name,
                    tube.patient.given_name,
                    tube.side,
                    tube.kind,
                    tube.size_fr,
                    tube.placed_on,
                    tube.last_exchange_on,
                    tube.status,
                    tube.exchange_interval_days,
                    tube.exchange_due_on,
                    tube.due_state(today),
                    tube.removed_on,
                    f"{trial.outcome} {trial.started_on}..{trial.ended_on or trial.planned_end_on}"
                    if trial
                    else "",
                    tube.notes,
                )
            ]
        )
    return rows
