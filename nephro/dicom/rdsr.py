"""Read the accumulated dose from an X-Ray Radiation Dose SR (TID 10001/10002).

Codes (clinical.md section 7, DCMR CID 10050): 113730 Total Fluoro Time, 113722 Dose Area
Product Total, 113725 Dose (RP) Total; they sit in the Accumulated X-Ray Dose container
(113702), one per plane on a biplane unit, so the planes are added. Units are UCUM and
are normalised with nephro.exams.dose (KAP to Gy.cm2, Ka,r to mGy, time to s).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from pydicom.dataset import Dataset

from nephro.exams.dose import KAP_UNITS, KAR_UNITS, to_gy_cm2, to_mgy, usable

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
    if not usable(value):
        raise DoseReportError(f"numeric item {_code(item)} holds {value}, not a usable value")
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
