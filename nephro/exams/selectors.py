"""The worklist's queries, in the forms an index serves at a hospital group's size
(bench/scale.py): a day as a range of times, not a date computed from every row; a
blocking flag as EXISTS on a small partial index, not a count over a join."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from nephro.exams.access import visible_exams
from nephro.exams.models import Exam


def scheduled_on(day: date) -> Q:
    """Exams scheduled on `day` (local time): as ``scheduled_at__date=day``, but as
    ``start <= scheduled_at < next day's start`` so the schedule's index serves it."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), tz)
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), tz)
    return Q(scheduled_at__gte=start, scheduled_at__lt=end)


def listed(exams: QuerySet[Exam]) -> QuerySet[Exam]:
    """Exams as a list shows them (_exam_rows.html): with their patient and order only,
    not the referrer's account and the tube that visible_exams joins for one exam's page
    (two fewer joins and objects a row, for every row of the worklist and dashboards)."""
    return exams.select_related(None).select_related("patient", "order")


def worklist(user) -> QuerySet[Exam]:
    """The exams this user may see, each with ``open_flags``: whether an active hold
    flag waits for a radiologist's go-ahead (screening.models.Flag.blocking; the
    worklist's HOLD tag). The flag model is reached through the exam's reverse
    relation: screening sits above exams."""
    flag = Exam._meta.get_field("flags").related_model
    holds = flag._default_manager.filter(exam=OuterRef("pk"), active=True, severity="hold")
    undecided = holds.exclude(decision__in=("proceed", "premedicate"))
    return listed(visible_exams(user)).annotate(open_flags=Exists(undecided))
