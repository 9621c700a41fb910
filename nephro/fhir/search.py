"""Which rows a grant reaches, and the search parameters each resource type accepts."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from nephro.audit.models import AuditEvent
from nephro.exams.access import visible_exams
from nephro.exams.models import Exam, Procedure
from nephro.fhir.auth import FhirError, Grant
from nephro.patients.access import visible_patients
from nephro.patients.models import Patient
from nephro.reports.models import Report
from nephro.tubes.models import Tube

DATE_PREFIX = re.compile(r"^(eq|ne|gt|lt|ge|le)?(\d{4}(-\d{2}(-\d{2}(T.*)?)?)?)$")
LOOKUP = {"gt": "gt", "lt": "lt", "ge": "gte", "le": "lte"}


def patients(grant: Grant) -> QuerySet:
    return Patient.objects.all() if grant.user is None else visible_patients(grant.user)


def exams(grant: Grant) -> QuerySet:
    rows = Exam.objects.all() if grant.user is None else visible_exams(grant.user)
    # The hospital's order number is shown on each ServiceRequest: one join, not a query each.
    return rows.select_related("patient", "order", "order__referrer", "order__placer", "tube")


def _moment(text: str) -> datetime:
    value = parse_datetime(text) if "T" in text else None
    if value is None:
        day = parse_date(text if len(text) == 10 else f"{text}-01-01"[:10])
        if day is None:
            raise FhirError(400, "invalid", f"not a FHIR date: {text!r}")
        value = datetime(day.year, day.month, day.day)
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def _span(text: str) -> tuple[datetime, datetime | None]:
    """The search value as [start, end): a year, a month or a day is the whole of it;
    a date and time is a moment (end None)."""
    start = _moment(text)
    if "T" in text:
        return start, None
    if len(text) == 4:
        naive = datetime(start.year + 1, 1, 1)
    elif len(text) == 7:
        naive = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
    else:
        return start, start + timedelta(days=1)
    return start, timezone.make_aware(naive)


def date_filter(path: str) -> Callable[[QuerySet, str], QuerySet]:
    """FHIR date prefixes as plain comparisons on the column, never a function of it
    (`__date` would hide the column from its index): eq2026-12 is the whole month."""

    def apply(rows: QuerySet, value: str) -> QuerySet:
        match = DATE_PREFIX.match(value)
        if match is None:
            raise FhirError(400, "invalid", f"not a FHIR date search value: {value!r}")
        prefix = match.group(1) or "eq"
        start, end = _span(match.group(2))
        if end is None:  # a moment
            if prefix in LOOKUP:
                return rows.filter(**{f"{path}__{LOOKUP[prefix]}": start})
            same = Q(**{path: start})
        else:
            bounds = {
                "gt": ("gte", end),
                "ge": ("gte", start),
                "lt": ("lt", start),
                "le": ("lt", end),
            }
            if prefix in bounds:
                lookup, moment = bounds[prefix]
                return rows.filter(**{f"{path}__{lookup}": moment})
            same = Q(**{f"{path}__gte": start, f"{path}__lt": end})
        return rows.exclude(same) if prefix == "ne" else rows.filter(same)

    return apply


def token_filter(path: str, system: str = "") -> Callable[[QuerySet, str], QuerySet]:
    def apply(rows: QuerySet, value: str) -> QuerySet:
        given_system, bar, code = value.rpartition("|")
        if bar and system and given_system and given_system != system:
            return rows.none()
        return rows.filter(**{path: code if bar else value})

    return apply


def reference_filter(path: str, resource_type: str) -> Callable[[QuerySet, str], QuerySet]:
    def apply(rows: QuerySet, value: str) -> QuerySet:
        key = value.removeprefix(f"{resource_type}/")
        if not key.isdigit():
            raise FhirError(400, "invalid", f"not a {resource_type} reference: {value!r}")
        return rows.filter(**{path: int(key)})

    return apply


def choice_filter(path: str, mapping: dict[str, list[str]]) -> Callable[[QuerySet, str], QuerySet]:
    """A FHIR code that stands for several stored values (status)."""

    def apply(rows: QuerySet, value: str) -> QuerySet:
        wanted = [stored for code in value.split(",") for stored in mapping.get(code, [])]
        return rows.filter(**{f"{path}__in": wanted})

    return apply


@dataclass(frozen=True)
class Kind:
    name: str
    rows: Callable[[Grant], QuerySet]
    params: dict[str, Callable[[QuerySet, str], QuerySet]] = field(default_factory=dict)
    order: tuple[str, ...] = ("pk",)


def _of_visible_exams(rows: QuerySet, grant: Grant) -> QuerySet:
    """Rows whose exam the grant reaches. A grant reaching every exam (a system, staff)
    needs no `exam IN (all exams)` subquery, which made SQLite look up each row's exam."""
    scoped = exams(grant)
    return rows.filter(exam__in=scoped) if scoped.query.has_filters() else rows


def report_rows(grant: Grant) -> QuerySet:
    return (
        _of_visible_exams(Report.objects.filter(status__in=["preliminary", "final"]), grant)
        .select_related(
            "exam",
            "exam__patient",
            "exam__findings",
            "exam__procedure",
            "exam__disposition",
            "signed_by",
            "preliminary_by",
        )
        .prefetch_related("addenda", "exam__drainage_analyses__review")
    )


def procedure_rows(grant: Grant) -> QuerySet:
    return _of_visible_exams(Procedure.objects.all(), grant).select_related("exam")


def tube_rows(grant: Grant) -> QuerySet:
    return Tube.objects.filter(patient__in=patients(grant))


def audit_rows(grant: Grant) -> QuerySet:
    """The audit trail, for those who may search it (smart.AUDIT_READERS)."""
    return AuditEvent.objects.all()
