"""Dose from devices is evidence, not a command.

Anything that calls itself FLUORO1 can send a dose report or an MPPS, so a device's
dose (RDSR, or MPPS when no RDSR came) is:
- validated: finite and not negative (units are checked where it is read: rdsr.py,
  mpps.py); anything else is refused;
- kept as a DeviceDose row, whatever happens next, and compared with the procedure's
  recorded values: a difference over 10 % (nephro.exams.dose.MISMATCH_FRACTION) raises a
  DOSE_MISMATCH flag for the radiologist;
- applied only while the exam is in progress, and then only to empty values or to values
  a device gave before (an RDSR over an MPPS, never an MPPS over an RDSR): never over a
  value a person entered;
- on a completed, reported or closed exam it changes nothing: a person may accept it
  (``accept_device_dose``, an audited correction).
Dose flags (3 Gy notice, 5 Gy SRDL, mismatch) are persisted as DoseAlert rows when a
device's dose arrives, from the device's value and from the recorded one, and only a
person's audited decision (``clear_alert``) ends one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record
from nephro.dicom.models import DeviceDose, DoseAlert

# The RDSR's concept codes, read by nephro.fhir from here (they live in rdsr.py).
from nephro.dicom.rdsr import FLUORO_TIME as FLUORO_TIME
from nephro.dicom.rdsr import KAP_TOTAL as KAP_TOTAL
from nephro.dicom.rdsr import KAR_TOTAL as KAR_TOTAL
from nephro.exams import services as exam_services
from nephro.exams.dose import differs, dose_flags, usable
from nephro.exams.lifecycle import State
from nephro.exams.models import Exam, Procedure

# States in which a device's dose is recorded as evidence, and the one in which it may
# also fill the procedure.
RECORDING_STATES = frozenset(
    {State.IN_PROGRESS, State.COMPLETED, State.REPORTED, State.FOLLOW_UP, State.CLOSED}
)
FILLING_STATES = frozenset({State.IN_PROGRESS})
# As the procedure stores them (nephro.exams.models.Procedure).
QUANTUM = {
    "fluoro_time_s": Decimal("0.1"),
    "kap_gy_cm2": Decimal("0.0001"),
    "ka_r_mgy": Decimal("0.01"),
}
LABEL = {
    "fluoro_time_s": "fluoroscopy time (s)",
    "kap_gy_cm2": "KAP (Gy·cm²)",
    "ka_r_mgy": "Ka,r (mGy)",
}
# The largest value each field can hold (DeviceDose: 12 digits); more is not a dose.
_LIMIT = Decimal("1e7")


class InvalidDose(ValueError):
    """A device reported a value that is not a dose (negative, infinite, absurd)."""


class NotAPerson(PermissionError):
    """Only a person may correct a dose or clear a dose flag."""


@dataclass(frozen=True)
class Reported:
    fluoro_time_s: Decimal | None = None
    kap_gy_cm2: Decimal | None = None
    ka_r_mgy: Decimal | None = None

    def given(self) -> dict[str, Decimal]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if value is not None}


def validate(reported: Reported) -> dict[str, Decimal]:
    """The values given, rounded as stored; InvalidDose for any that is not a dose."""
    out = {}
    for name, value in reported.given().items():
        if not usable(value) or value >= _LIMIT:
            raise InvalidDose(f"{LABEL[name]} {value} is not a usable value")
        out[name] = value.quantize(QUANTUM[name])
    return out


def _replaceable(procedure: Procedure, name: str, source: str) -> bool:
    """Whether a device's value may go into this field while the exam is in progress."""
    if getattr(procedure, name) is None:
        return True
    if procedure.dose_source == "manual":
        return False  # a person's value
    return source == "rdsr" or procedure.dose_source == "mpps"


def _recorded(procedure: Procedure) -> dict[str, Decimal | None]:
    return {name: getattr(procedure, name) for name in QUANTUM}


def apply_device_dose(
    actor: Actor,
    exam_id: int,
    *,
    source: str,
    reference: str,
    reported: Reported,
    calling_ae: str = "",
) -> DeviceDose | None:
    """Record a device's dose for an exam and apply what the rules above allow."""
    values = validate(reported)
    with exam_services.locked_exam(exam_id) as exam:
        if exam.state not in RECORDING_STATES:
            why = f"exam is {exam.state}"
            detail = {"source": source, "why": why, "reference": reference}
            record(actor, "procedure.dose", exam, outcome=Outcome.FAILED, detail=detail)  # type: ignore[arg-type]  # TextChoices (no Django stubs)
            return None
        procedure, _ = Procedure.objects.get_or_create(exam=exam)
        before = _recorded(procedure)
        applied = {}
        if exam.state in FILLING_STATES:
            applied = {n: v for n, v in values.items() if _replaceable(procedure, n, source)}
        for name, value in applied.items():
            setattr(procedure, name, value)
        nothing_before = all(value is None for value in before.values())
        if applied and (nothing_before or procedure.dose_source != "manual"):
            procedure.dose_source = source
        procedure.save()
        if applied and len(applied) == len(values):
            outcome = DeviceDose.Outcome.APPLIED
        else:
            outcome = DeviceDose.Outcome.PARTLY if applied else DeviceDose.Outcome.KEPT
        evidence = DeviceDose.objects.create(
            exam=exam,
            source=source,
            reference=reference[:64],
            calling_ae=calling_ae[:16],
            outcome=outcome,
            **values,
        )
        alerts = _raise_alerts(exam, procedure, evidence, values)
        record(
            actor,
            "procedure.dose",
            procedure,
            detail={
                "source": source,
                "reference": reference,
                "outcome": outcome,
                "before": _text(before),
                "after": _text(_recorded(procedure)),
                "reported": _text(values),
                "dose_flags": [alert.code for alert in alerts],
            },
        )
    return evidence


def _raise_alerts(
    exam: Exam, procedure: Procedure, evidence: DeviceDose, values: dict[str, Decimal]
) -> list[DoseAlert]:
    """Persist the dose flags of both the recorded and the device's Ka,r, and a mismatch
    flag when they disagree; return the flags now active on the exam."""
    active = {alert.code: alert for alert in exam.dose_alerts.filter(cleared_at__isnull=True)}
    for kar in (procedure.ka_r_mgy, values.get("ka_r_mgy")):
        for flag in dose_flags(kar):
            if flag.code not in active:
                active[flag.code] = DoseAlert.objects.create(
                    exam=exam,
                    code=flag.code,
                    severity=flag.severity,
                    text=flag.text,
                    source=flag.source,
                    evidence=evidence,
                )
    recorded = _recorded(procedure)
    disagree = [
        f"{LABEL[name]}: device {value}, recorded {recorded[name]}"
        for name, value in values.items()
        if (before := recorded[name]) is not None and differs(before, value)
    ]
    if disagree:
        mismatch = DoseAlert.objects.create(
            exam=exam,
            code="DOSE_MISMATCH",
            severity="warn",
            text=f"The {evidence.source.upper()} from {evidence.calling_ae or 'the device'} "
            "disagrees with the recorded dose by more than 10 % ("
            + "; ".join(disagree)
            + "): the radiologist should check which is right.",
            source="issue 16: device dose is evidence",
            evidence=evidence,
        )
        active[f"DOSE_MISMATCH:{mismatch.pk}"] = mismatch
    return list(active.values())


def accept_device_dose(actor: Actor, evidence_id: int, *, reason: str) -> Procedure:
    """A person's audited correction: the procedure takes this device's values."""
    _person(actor, reason)
    evidence = DeviceDose.objects.get(pk=evidence_id)
    with exam_services.locked_exam(evidence.exam_id):
        procedure, _ = Procedure.objects.get_or_create(exam_id=evidence.exam_id)
        before = _recorded(procedure)
        for name in QUANTUM:
            value = getattr(evidence, name)
            if value is not None:
                setattr(procedure, name, value)
        procedure.dose_source = evidence.source
        procedure.save()
        evidence.outcome = DeviceDose.Outcome.ACCEPTED
        evidence.save(update_fields=["outcome"])
        record(
            actor,
            "procedure.dose_correction",
            procedure,
            detail={
                "evidence": evidence.reference,
                "before": _text(before),
                "after": _text(_recorded(procedure)),
                "reason": reason[:300],
            },
        )
    return procedure


def clear_alert(actor: Actor, alert_id: int, *, reason: str) -> DoseAlert:
    """A person's audited decision that a dose flag is dealt with."""
    _person(actor, reason)
    alert = DoseAlert.objects.select_related("exam").get(pk=alert_id)
    if alert.cleared_at is None:
        alert.cleared_at, alert.cleared_by = timezone.now(), actor.user
        alert.clear_reason = reason[:300]
        alert.save(update_fields=["cleared_at", "cleared_by", "clear_reason"])
        record(
            actor,
            "procedure.dose_flag_cleared",
            alert,
            detail={"code": alert.code, "text": alert.text, "reason": alert.clear_reason},
        )
    return alert


def active_alerts(exam: Exam) -> list[DoseAlert]:
    return list(exam.dose_alerts.filter(cleared_at__isnull=True))


def _person(actor: Actor, reason: str) -> None:
    if actor.user is None:
        raise NotAPerson("only a person may correct a dose or clear a dose flag")
    if not reason.strip():
        raise ValueError("say why")


def _text(values: dict) -> dict:
    return {name: None if value is None else str(value) for name, value in values.items()}
