"""Dose from the device: read the accumulated dose from an X-Ray Radiation Dose SR
(TID 10001/10002), and apply a device-reported dose to the exam's procedure.

Codes (clinical.md section 7, DCMR CID 10050): 113730 Total Fluoro Time, 113722 Dose Area
Product Total, 113725 Dose (RP) Total; they sit in the Accumulated X-Ray Dose container
(113702), one per plane on a biplane unit, so the planes are added. Units are UCUM and
are normalised with nephro.exams.dose (KAP to Gy.cm2, Ka,r to mGy, time to s).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from pydicom.dataset import Dataset

from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record
from nephro.exams import services as exam_services
from nephro.exams.dose import KAP_UNITS, KAR_UNITS, to_gy_cm2, to_mgy
from nephro.exams.lifecycle import State
from nephro.exams.models import Procedure

FLUORO_TIME = "113730"
KAP_TOTAL = "113722"
KAR_TOTAL = "113725"
ACCUMULATED = "113702"
_SECONDS = {"s": Decimal(1), "min": Decimal(60), "ms": Decimal("0.001"), "h": Decimal(3600)}


class DoseReportError(ValueError):
    """The SR is not a readable dose report."""


@dataclass(frozen=True)
class DoseTotals:
    fluoro_time_s: Decimal | None
    kap_gy_cm2: Decimal | None
    ka_r_mgy: Decimal | None

    def to_dict(self) -> dict:
        return {k: None if v is None else str(v) for k, v in self.__dict__.items()}


def _code(item: Dataset) -> str:
    seq = item.get("ConceptNameCodeSequence")
    return str(seq[0].get("CodeValue", "")) if seq else ""


def _num(item: Dataset) -> tuple[Decimal, str]:
    try:
        measured = item.MeasuredValueSequence[0]
        value = Decimal(str(measured.NumericValue))
        unit = str(measured.MeasurementUnitsCodeSequence[0].CodeValue)
    except (AttributeError, IndexError, InvalidOperation, TypeError) as exc:
        raise DoseReportError(f"numeric item {_code(item)} without a value and unit") from exc
    return value, unit


def _walk(items, code: str):
    for item in items or []:
        if _code(item) == code:
            yield item
        yield from _walk(item.get("ContentSequence"), code)


def _total(containers, code: str, convert) -> Decimal | None:
    values = []
    for container in containers:
        found = next(_walk(container.get("ContentSequence"), code), None)
        if found is not None:
            values.append(convert(*_num(found)))
    return sum(values, Decimal(0)) if values else None


def _seconds(value: Decimal, unit: str) -> Decimal:
    if unit not in _SECONDS:
        raise DoseReportError(f"unknown time unit {unit!r}")
    return value * _SECONDS[unit]


def _kap(value: Decimal, unit: str) -> Decimal:
    if unit not in KAP_UNITS:
        raise DoseReportError(f"unknown dose-area product unit {unit!r}")
    return to_gy_cm2(value, unit)


def _kar(value: Decimal, unit: str) -> Decimal:
    if unit not in KAR_UNITS:
        raise DoseReportError(f"unknown air kerma unit {unit!r}")
    return to_mgy(value, unit)


def read_totals(ds: Dataset) -> DoseTotals:
    if "ContentSequence" not in ds:
        raise DoseReportError("the SR has no content")
    containers = list(_walk(ds.ContentSequence, ACCUMULATED)) or [ds]
    totals = DoseTotals(
        fluoro_time_s=_total(containers, FLUORO_TIME, _seconds),
        kap_gy_cm2=_total(containers, KAP_TOTAL, _kap),
        ka_r_mgy=_total(containers, KAR_TOTAL, _kar),
    )
    if totals == DoseTotals(None, None, None):
        raise DoseReportError("no accumulated dose values in the report")
    return totals


# States in which an exam's procedure may take device-reported dose.
DOSE_STATES = frozenset(
    {State.IN_PROGRESS, State.COMPLETED, State.REPORTED, State.FOLLOW_UP, State.CLOSED}
)


def apply_device_dose(
    actor: Actor,
    exam_id: int,
    *,
    source: str,
    fluoro_time_s: Decimal | None,
    kap_gy_cm2: Decimal | None,
    ka_r_mgy: Decimal | None,
    reference: str,
) -> Procedure | None:
    """Fill the procedure's dose from the device (RDSR, or MPPS when no RDSR came).

    An RDSR is the authoritative record and replaces earlier values; MPPS values never
    replace RDSR ones. The audit event keeps the values that were replaced.
    """
    from nephro.exams.dose import dose_flags

    with exam_services.locked_exam(exam_id) as exam:
        if exam.state not in DOSE_STATES:
            record(
                actor,
                "procedure.dose",
                exam,
                outcome=Outcome.FAILED,
                detail={
                    "source": source,
                    "why": f"exam is {exam.state}",
                    "reference": reference,
                },
            )
            return None
        procedure, _ = Procedure.objects.get_or_create(exam=exam)
        if source == "mpps" and procedure.dose_source == "rdsr":
            return procedure
        before = {
            "fluoro_time_s": _str(procedure.fluoro_time_s),
            "kap_gy_cm2": _str(procedure.kap_gy_cm2),
            "ka_r_mgy": _str(procedure.ka_r_mgy),
            "dose_source": procedure.dose_source,
        }
        if fluoro_time_s is not None:
            procedure.fluoro_time_s = fluoro_time_s.quantize(Decimal("0.1"))
        if kap_gy_cm2 is not None:
            procedure.kap_gy_cm2 = kap_gy_cm2.quantize(Decimal("0.0001"))
        if ka_r_mgy is not None:
            procedure.ka_r_mgy = ka_r_mgy.quantize(Decimal("0.01"))
        procedure.dose_source = source
        procedure.save()
        flags = [f.code for f in dose_flags(procedure.ka_r_mgy)]
        record(
            actor,
            "procedure.dose",
            procedure,
            detail={
                "source": source,
                "reference": reference,
                "before": before,
                "after": {
                    "fluoro_time_s": _str(procedure.fluoro_time_s),
                    "kap_gy_cm2": _str(procedure.kap_gy_cm2),
                    "ka_r_mgy": _str(procedure.ka_r_mgy),
                },
                "dose_flags": flags,
            },
        )
    return procedure


def _str(value) -> str | None:
    return None if value is None else str(value)
