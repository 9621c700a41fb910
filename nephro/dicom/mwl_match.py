"""Modality Worklist matching (PS3.4 K.6.1.2, C.2.2.2): which scheduled exams a C-FIND
identifier asks for.

Keys and their matching types:
- Scheduled Procedure Step Start Date: single value or range; Start Time: single value
  or range, with a single date (C.2.2.2.5);
- Patient's Name: wildcard, case-insensitive; a family name alone matches any given
  name (C.2.2.2.4);
- Patient ID, Accession Number, Modality, Scheduled Station AE Title, Requested
  Procedure ID, Scheduled Procedure Step ID, Scheduled Performing Physician's Name:
  single value or wildcard (C.2.2.2.1, C.2.2.2.4);
- Study Instance UID: single value or a list of UIDs (C.2.2.2.2);
- an empty value or ``*``: universal matching (C.2.2.2.3).
Wildcards run in linear time (wildcard.py); the database narrows first by each literal
prefix and last piece (what every match starts and ends with), using the (state,
scheduled_at) index and the family name index.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag

from nephro.dicom.wildcard import Wildcard, has_wildcards, literal_prefix
from nephro.exams.lifecycle import ON_WORKLIST
from nephro.exams.models import Exam
from nephro.patients.models import Patient

SPS = Tag("ScheduledProcedureStepSequence")
# No name or text value we hold is longer: a pattern needing more matches nothing.
_LONGEST_NAME = sum(
    Patient._meta.get_field(f).max_length or 0 for f in ("family_name", "given_name")
)
_LONGEST_NAME += 1  # the ^ between them
_LONGEST_TEXT = 64  # LO, the longest of the text keys' VRs (PS3.5 6.2)


class BadQuery(ValueError):
    """The identifier cannot be matched (wrong format of a matching key)."""


def _date(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError as exc:
        raise BadQuery(f"bad date {value!r}") from exc


def _time(value: str, end: bool) -> time:
    digits = value.split(".")[0]
    if not digits.isdigit() or len(digits) not in (2, 4, 6):
        raise BadQuery(f"bad time {value!r}")
    parts = [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
    filler = [59, 59] if end else [0, 0]
    hour, minute, second = (parts + filler[len(parts) - 1 :])[:3]
    return time(hour, minute, second, 999999 if end else 0)


def _range(value: str) -> tuple[str, str]:
    if "-" in value:
        low, high = value.split("-", 1)
        return low.strip(), high.strip()
    return value, value


Check = Callable[[dict], bool]  # a test on one worklist row (responses())
# Single value or wildcard matching (PS3.4 C.2.2.2.1, C.2.2.2.4): key, level, row field.
_TEXT_KEYS = (
    ("PatientID", "top", "patient__mrn"),
    ("AccessionNumber", "top", "accession_number"),
    ("Modality", "step", "modality"),
    ("ScheduledStationAETitle", "step", "modality_ae_title"),
)
# Keys whose answer we make up from the exam (_values): matched against that answer.
_MADE_UP_KEYS = (
    ("RequestedProcedureID", "top", lambda row: f"RP{row['pk']}"),
    ("ScheduledProcedureStepID", "step", lambda row: f"SPS{row['pk']}"),
    ("ScheduledPerformingPhysicianName", "step", lambda row: ""),
)


def _values_of(identifier: Dataset, keyword: str) -> list[str]:
    """A key's value as text; several for a multi-valued one (a list of UIDs)."""
    value = identifier.get(keyword)
    if value is None:
        return []
    items = list(value) if isinstance(value, MultiValue | list) else [value]
    return [text for text in (str(item).strip() for item in items) if text]


def _single(identifier: Dataset, keyword: str) -> str:
    values = _values_of(identifier, keyword)
    if len(values) > 1:
        raise BadQuery(f"{keyword} may hold one value only")
    return values[0] if values else ""


def _text_key(exams: QuerySet, field: str, pattern: str, checks: list[Check]) -> QuerySet:
    if not pattern or pattern == "*":
        return exams  # universal matching
    if not has_wildcards(pattern):
        return exams.filter(**{field: pattern})
    matcher = Wildcard.of(pattern)
    if matcher.fixed > _LONGEST_TEXT:
        return exams.none()
    # What every match starts and ends with, in SQL; the rest in Python (checks).
    prefix = literal_prefix(pattern)
    if prefix:
        exams = exams.filter(**{f"{field}__startswith": prefix})
    if matcher.starred and matcher.last and not has_wildcards(matcher.last):
        exams = exams.filter(**{f"{field}__endswith": matcher.last})
    checks.append(lambda row: matcher.matches(row[field] or ""))
    return exams


def _apply_name(exams: QuerySet, pattern: str, checks: list[Check]) -> QuerySet:
    """Narrow in SQL by what every match starts and ends with; the full pattern is then
    checked in Python, on those exams only.

    One subquery finds the patients: by the literal prefix (family name, then given name,
    on the family name index: patients/migrations/0003) and by a literal last piece (a
    name ends with its given name: LIKE '%x', checked on the prefix's patients only, or
    on all when the pattern starts with a wildcard). The worklist index (state,
    scheduled_at, patient) then checks each scheduled exam's patient against them. A
    family name alone matches any given name."""
    pattern = pattern.rstrip("^")
    if not pattern or pattern == "*":
        return exams
    prefix = literal_prefix(pattern)
    wild = prefix != pattern
    matcher = Wildcard.of(pattern if "^" in pattern or wild else pattern + "^*", ignore_case=True)
    if matcher.fixed > _LONGEST_NAME:
        return exams.none()  # longer than any name we hold: nothing to scan
    family, _, given = prefix.partition("^")
    patients = Patient.objects.all()
    if "^" in prefix:
        patients = patients.filter(family_name__iexact=family)
        if given:
            patients = patients.filter(given_name__istartswith=given)
    elif family:
        lookup = "family_name__istartswith" if wild else "family_name__iexact"
        patients = patients.filter(**{lookup: family})
    last = matcher.last
    if matcher.starred and last and not has_wildcards(last) and "^" not in last:
        patients = patients.filter(given_name__iendswith=last)
    if patients.query.where:
        exams = exams.filter(patient__in=patients.values("pk"))
    checks.append(
        lambda row: matcher.matches(f"{row['patient__family_name']}^{row['patient__given_name']}")
    )
    return exams


def _dates(exams: QuerySet, step: Dataset) -> QuerySet:
    """Scheduled Procedure Step Start Date (single or range) and Time (with one date)."""
    tz = timezone.get_current_timezone()
    start_date = _single(step, "ScheduledProcedureStepStartDate")
    start_time = _single(step, "ScheduledProcedureStepStartTime")
    if not start_date:
        return exams
    low, high = _range(start_date)
    low_d = _date(low) if low else None
    high_d = _date(high) if high else None
    low_t, high_t = time.min, time.max
    if start_time and low_d is not None and low_d == high_d:
        t_low, t_high = _range(start_time)
        low_t = _time(t_low, end=False) if t_low else time.min
        high_t = _time(t_high, end=True) if t_high else time.max
    if low_d is not None:
        exams = exams.filter(scheduled_at__gte=datetime.combine(low_d, low_t, tzinfo=tz))
    if high_d is not None:
        if high_t == time.max:
            bound = datetime.combine(high_d + timedelta(days=1), time.min, tzinfo=tz)
            exams = exams.filter(scheduled_at__lt=bound)
        else:
            exams = exams.filter(scheduled_at__lte=datetime.combine(high_d, high_t, tzinfo=tz))
    return exams


def _made_up_check(matcher: Wildcard, answer: Callable[[dict], str]) -> Check:
    return lambda row: matcher.matches(answer(row))


def candidates(identifier: Dataset) -> tuple[QuerySet, list[Check]]:
    """The exams the database narrows to, and the checks each row must still pass."""
    exams = Exam.objects.filter(state__in=ON_WORKLIST, scheduled_at__isnull=False)
    steps = identifier.get("ScheduledProcedureStepSequence")
    step: Dataset = steps[0] if steps else Dataset()
    levels = {"top": identifier, "step": step}
    checks: list[Check] = []
    exams = _dates(exams, step)
    for keyword, level, field in _TEXT_KEYS:
        exams = _text_key(exams, field, _single(levels[level], keyword), checks)
    for keyword, level, answer in _MADE_UP_KEYS:
        pattern = _single(levels[level], keyword)
        if pattern and pattern != "*":
            checks.append(_made_up_check(Wildcard.of(pattern), answer))
    # List of UID matching (PS3.4 C.2.2.2.2): any of the UIDs given.
    uids = [uid for uid in _values_of(identifier, "StudyInstanceUID") if uid != "*"]
    if uids:
        exams = exams.filter(study_instance_uid__in=uids)
    return _apply_name(exams, _single(identifier, "PatientName"), checks), checks
