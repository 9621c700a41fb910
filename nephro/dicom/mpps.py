"""Read a Modality Performed Procedure Step (PS3.3 C.4.13-C.4.17) into plain values.

Dose: Total Time of Fluoroscopy (0040,0300) in s and Image and Fluoroscopy Area Dose
Product (0018,115E) in dGy.cm2 map to the procedure's fluoroscopy time and KAP. Entrance
Dose in mGy (0040,8302) is kept in the step's record but is not the reference air kerma.
Contrast: the Billing Supplies and Devices Sequence (C.4.17, as IHE SWF uses it) with
its quantity in mL; a plain Contrast/Bolus Agent (0018,0010) is read too.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from pydicom.dataset import Dataset

from nephro.exams.dose import to_gy_cm2


def _text(ds: Dataset, keyword: str, limit: int = 64) -> str:
    value = ds.get(keyword, "")
    return str(value if value is not None else "").strip()[:limit]


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _first(ds: Dataset, keyword: str) -> Dataset | None:
    seq = ds.get(keyword)
    return seq[0] if seq else None


def read_step(ds: Dataset) -> dict:
    scheduled = _first(ds, "ScheduledStepAttributesSequence") or Dataset()
    reason = _first(ds, "PerformedProcedureStepDiscontinuationReasonCodeSequence")
    reported: dict = {}
    fluoro = _decimal(ds.get("TotalTimeOfFluoroscopy"))
    if fluoro is not None:
        reported["fluoro_time_s"] = str(fluoro)
    kap = _decimal(ds.get("ImageAndFluoroscopyAreaDoseProduct"))
    if kap is not None:
        reported["kap_gy_cm2"] = str(to_gy_cm2(kap, "dGy.cm2"))
    entrance = _decimal(ds.get("EntranceDoseInmGy"))
    if entrance is not None:
        reported["entrance_dose_mgy"] = str(entrance)
    reported.update(_contrast(ds))
    return {
        "status": _text(ds, "PerformedProcedureStepStatus", 16).upper(),
        "step_id": _text(ds, "PerformedProcedureStepID", 16),
        "description": _text(ds, "PerformedProcedureStepDescription"),
        "started": " ".join(
            filter(
                None,
                [
                    _text(ds, "PerformedProcedureStepStartDate"),
                    _text(ds, "PerformedProcedureStepStartTime"),
                ],
            )
        ),
        "ended": " ".join(
            filter(
                None,
                [
                    _text(ds, "PerformedProcedureStepEndDate"),
                    _text(ds, "PerformedProcedureStepEndTime"),
                ],
            )
        ),
        "accession": _text(scheduled, "AccessionNumber", 16),
        "study_uid": _text(scheduled, "StudyInstanceUID"),
        "patient_id": _text(ds, "PatientID"),
        "discontinued_reason": _text(reason, "CodeMeaning", 200) if reason else "",
        "reported": reported,
    }


def _contrast(ds: Dataset) -> dict:
    found: dict = {}
    for supply in ds.get("BillingSuppliesAndDevicesSequence") or []:
        item = _first(supply, "BillingItemSequence")
        quantity = _first(supply, "QuantitySequence")
        if item is None:
            continue
        found["contrast_agent"] = _text(item, "CodeMeaning")
        if quantity is not None:
            units = _first(quantity, "MeasuringUnitsSequence")
            unit = _text(units, "CodeValue").lower() if units is not None else ""
            amount = _decimal(quantity.get("Quantity"))
            if amount is not None and unit in ("ml", "cm3"):
                found["contrast_volume_ml"] = str(amount)
        break
    if "contrast_agent" not in found and ds.get("ContrastBolusAgent"):
        found["contrast_agent"] = _text(ds, "ContrastBolusAgent")
        volume = _decimal(ds.get("ContrastBolusVolume"))
        if volume is not None:
            found["contrast_volume_ml"] = str(volume)
    return found
