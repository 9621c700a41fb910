"""Room bookings: a clash is two live bookings of one room less than a slot apart
(NEPHRO_ROOM_SLOT_MINUTES; the study takes 30-60 min [DR][SD], clinical.md section 3)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from nephro.exams.lifecycle import NOT_BOOKED, State
from nephro.exams.models import Exam
from nephro.exams.selectors import scheduled_on
from nephro.lib.steps import Refused


class RoomClash(Refused):
    """The room is already booked around that time; booking anyway needs a confirmation."""

    def __init__(self, clashes: list[Exam]):
        booked = ", ".join(
            f"{timezone.localtime(e.scheduled_at):%H:%M} ({e.accession_number})" for e in clashes
        )
        super().__init__(
            f"{clashes[0].room} is already booked at {booked}; "
            "choose another time or room, or tick 'Book anyway'"
        )
        self.clashes = clashes


def _slot() -> timedelta:
    return timedelta(minutes=settings.NEPHRO_ROOM_SLOT_MINUTES)


def clashes(exam_id: int | None, *, when: datetime, room: str) -> list[Exam]:
    """Other live bookings of this room (any case) less than one slot away."""
    return list(
        Exam.objects.filter(
            room__iexact=room.strip(),
            scheduled_at__gt=when - _slot(),
            scheduled_at__lt=when + _slot(),
        )
        .exclude(pk=exam_id)
        .exclude(state__in=NOT_BOOKED)
        .order_by("scheduled_at")
    )


def day_by_room(day: date) -> dict[str, list[tuple[Exam, bool]]]:
    """Each room's bookings on `day` in time order, each with whether it clashes."""
    exams = (
        Exam.objects.filter(scheduled_on(day))
        .exclude(state=State.CANCELLED)
        .select_related("patient", "order")
        .order_by("room", "scheduled_at", "pk")
    )
    by_room: dict[str, list[Exam]] = defaultdict(list)
    for exam in exams:
        by_room[exam.room.strip().upper()].append(exam)
    return {
        rows[0].room: [(e, _clashes_within(e, rows)) for e in rows] for rows in by_room.values()
    }


def _clashes_within(exam: Exam, rows: list[Exam]) -> bool:
    if exam.state in NOT_BOOKED:
        return False
    return any(
        other.pk != exam.pk
        and other.state not in NOT_BOOKED
        and abs(other.scheduled_at - exam.scheduled_at) < _slot()
        for other in rows
    )
