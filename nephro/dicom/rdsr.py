"""Read the accumulated dose from an X-Ray Radiation Dose SR (TID 10001-10004), as
vendors send it.

Concept codes (DCMR; clinical.md section 7): the report 113701 holds one Accumulated
X-Ray Dose container (113702, TID 10002) per acquisition plane (113764: Plane A, Plane
B, Single Plane), each with (TID 10004) 113722 Dose Area Product Total, 113725 Dose (RP)
Total and 113730 Total Fluoro Time, or only their fluoroscopy and acquisition parts
(113726 + 113727, 113728 + 113729); planes are added. A report with no accumulated
values is summed from its irradiation events (113706, TID 10003: 122130 Dose Area
Product, 113738 Dose (RP)). The same content may come as an X-Ray Radiation Dose SR, an
Enhanced SR or a Comprehensive SR (root concept 113701).

Units: UCUM as the templates use them (Gy.m2, Gy, s), any SI prefix d/c/m/u of Gy with
an area of m2, dm2, cm2 or mm2, and what vendors send instead: "Gym2" (no separator),
"Gy*m2", "µGy.m2" (micro sign or Greek mu), "Gy·m²". Anything else is refused, never
guessed. Values are normalised: KAP to Gy.cm2, Ka,r to mGy, time to s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from pydicom.dataset import Dataset

from nephro.dicom.sop import RDSR_CLASS
from nephro.exams.dose import usable

REPORT = "113701"
ACCUMULATED = "113702"
EVENT = "113706"
FLUORO_TIME = "113730"
KAP_TOTAL = "113722"
KAP_PARTS = ("113726", "113727")  # fluoroscopy, acquisition
KAR_TOTAL = "113725"
KAR_PARTS = ("113728", "113729")
EVENT_KAP = "122130"
EVENT_KAR = "113738"
# A value and its unit, to the unit the procedure stores (_seconds, _kap, _kar).
Convert = Callable[[Decimal, str], Decimal]
_SECONDS = {"s": Decimal(1), "min": Decimal(60), "ms": Decimal("0.001"), "h": Decimal(3600)}
_PREFIX = {"": Decimal(1), "d": Decimal("0.1"), "c": Decimal("0.01"), "m": Decimal("0.001")}
_PREFIX["u"] = Decimal("0.000001")
_AREA_CM2 = {"m": Decimal(10000), "dm": Decimal(100), "cm": Decimal(1), "mm": Decimal("0.01")}
_KAP_UNIT = re.compile(r"([dcmu]?)Gy[.*]?((?:d|c|m)?m)2")
_KAR_UNIT = re.compile(r"([dcmu]?)Gy")


class DoseReportError(ValueError):
    """The SR is not a readable dose report."""


class NotADoseReport(DoseReportError):
    """An Enhanced or Comprehensive SR that holds something else."""


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


def _walk(items: Iterable[Dataset] | None, code: str) -> Iterator[Dataset]:
    for item in items or []:
        if _code(item) == code:
            yield item
        yield from _walk(item.get("ContentSequence"), code)


def _canonical(unit: str) -> str:
    """A vendor's spelling of a unit in plain UCUM characters."""
    for alias, plain in (("µ", "u"), ("μ", "u"), ("·", "."), ("²", "2"), ("^", ""), (" ", "")):
        unit = unit.replace(alias, plain)
    return unit


def _seconds(value: Decimal, unit: str) -> Decimal:
    if unit not in _SECONDS:
        raise DoseReportError(f"unknown time unit {unit!r}")
    return value * _SECONDS[unit]


def _kap(value: Decimal, unit: str) -> Decimal:
    match = _KAP_UNIT.fullmatch(_canonical(unit))
    if match is None:
        raise DoseReportError(f"unknown dose-area product unit {unit!r}")
    return value * _PREFIX[match[1]] * _AREA_CM2[match[2]]


def _kar(value: Decimal, unit: str) -> Decimal:
    match = _KAR_UNIT.fullmatch(_canonical(unit))
    if match is None:
        raise DoseReportError(f"unknown air kerma unit {unit!r}")
    return value * _PREFIX[match[1]] * 1000


def _first(container: Dataset, code: str, convert: Convert) -> Decimal | None:
    found = next(_walk(container.get("ContentSequence"), code), None)
    return None if found is None else convert(*_num(found))


def _sum(values: Iterable[Decimal | None]) -> Decimal | None:
    present = [value for value in values if value is not None]
    return sum(present, Decimal(0)) if present else None


def _either(
    container: Dataset, total: str, parts: tuple[str, ...], convert: Convert
) -> Decimal | None:
    """The total, or else the sum of its parts (some units report only the parts)."""
    value = _first(container, total, convert)
    if value is None:
        value = _sum(_first(container, part, convert) for part in parts)
    return value


def is_dose_report(ds: Dataset) -> bool:
    return str(ds.get("SOPClassUID", "")) == RDSR_CLASS or _code(ds) == REPORT


def read_totals(ds: Dataset) -> DoseTotals:
    if not is_dose_report(ds):
        raise NotADoseReport("the SR is not an X-Ray Radiation Dose Report (TID 10001)")
    if "ContentSequence" not in ds:
        raise DoseReportError("the SR has no content")
    planes = list(_walk(ds.ContentSequence, ACCUMULATED))
    totals = DoseTotals(
        fluoro_time_s=_sum(_first(plane, FLUORO_TIME, _seconds) for plane in planes),
        kap_gy_cm2=_sum(_either(plane, KAP_TOTAL, KAP_PARTS, _kap) for plane in planes),
        ka_r_mgy=_sum(_either(plane, KAR_TOTAL, KAR_PARTS, _kar) for plane in planes),
    )
    if totals.kap_gy_cm2 is None and totals.ka_r_mgy is None:
        events = list(_walk(ds.ContentSequence, EVENT))
        totals = DoseTotals(
            fluoro_time_s=totals.fluoro_time_s,
            kap_gy_cm2=_sum(_first(event, EVENT_KAP, _kap) for event in events),
            ka_r_mgy=_sum(_first(event, EVENT_KAR, _kar) for event in events),
        )
    if totals == DoseTotals(None, None, None):
        raise DoseReportError("no accumulated dose values in the report")
    return totals
