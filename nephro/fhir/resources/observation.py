"""Observations of one exam: the structured findings, the dose, the tube decision and the
drainage analysis (a device-generated suggestion with its review status).

They are views of rows the exam already has, so their ids are ``<exam>-<key>``.
"""

from __future__ import annotations

from fhir.resources.R4B.observation import Observation

from nephro.dicom.dose import FLUORO_TIME, KAP_TOTAL, KAR_TOTAL
from nephro.fhir.resources.common import (
    CODES,
    DCM,
    OBSERVATION_CATEGORY,
    UCUM,
    build,
    concept,
    instant,
    ref,
)

IMAGING = concept(OBSERVATION_CATEGORY, "imaging", "Imaging")
PROCEDURE = concept(OBSERVATION_CATEGORY, "procedure", "Procedure")
FINDING = f"{CODES}/finding"

# Structured findings (nephro.reports.models.Findings, clinical.md section 4): key, label.
CODED_FINDINGS = (
    ("tube_position", "Tube position"),
    ("tube_patency", "Tube patency"),
    ("hydronephrosis", "Hydronephrosis (SFU grade)"),
    ("upj_passage", "Passage at the ureteropelvic junction"),
    ("ureter_passage", "Passage through the ureter"),
    ("bladder", "Contrast into the bladder"),
    ("obstruction_level", "Level of obstruction"),
    ("obstruction_cause", "Cause of obstruction"),
    ("filling_defect", "Filling defect"),
)
YES_NO_FINDINGS = (("leak", "Leak / extravasation"), ("fistula", "Fistula"))
# Dose, coded as in the RDSR (DCMR CID 10050; nephro.dicom.dose), stored normalised.
DOSE = (
    (KAP_TOTAL, "Dose Area Product Total", "kap_gy_cm2", "Gy.cm2"),
    (KAR_TOTAL, "Dose (RP) Total", "ka_r_mgy", "mGy"),
    (FLUORO_TIME, "Total Fluoro Time", "fluoro_time_s", "s"),
)


def _observation(exam, key: str, code: dict, category: dict, status: str, value: dict):
    return build(
        Observation,
        {
            "resourceType": "Observation",
            "id": f"{exam.pk}-{key.replace('_', '-')}",
            "status": status,
            "category": [category],
            "code": code,
            "subject": ref("Patient", exam.patient_id),
            "basedOn": [ref("ServiceRequest", exam.pk)],
            "effectiveDateTime": instant(exam.completed_at or exam.started_at),
            **value,
        },
        exam.updated_at,
    )


def findings(exam, status: str) -> list:
    found = getattr(exam, "findings", None)
    if found is None:
        return []
    out = []
    for key, label in CODED_FINDINGS:
        value = getattr(found, key)
        if value in ("", None):
            continue
        answer = concept(f"{FINDING}-{key.replace('_', '-')}", str(value), _display(found, key))
        code = concept(FINDING, key.replace("_", "-"), label)
        out.append(_observation(exam, key, code, IMAGING, status, {"valueCodeableConcept": answer}))
    for key, label in YES_NO_FINDINGS:
        code = concept(FINDING, key, label)
        value = {"valueBoolean": getattr(found, key)}
        out.append(_observation(exam, key, code, IMAGING, status, value))
    if found.bladder_time_min is not None:
        code = concept(FINDING, "bladder-time", "Time to bladder")
        quantity = _quantity(found.bladder_time_min, "min")
        out.append(_observation(exam, "bladder_time", code, IMAGING, status, quantity))
    return out


def _display(found, key: str) -> str:
    return getattr(found, f"get_{key}_display")()


def _quantity(value, unit: str) -> dict:
    return {"valueQuantity": {"value": float(value), "unit": unit, "system": UCUM, "code": unit}}


def dose(exam) -> list:
    procedure = getattr(exam, "procedure", None)
    if procedure is None:
        return []
    status = "final" if exam.completed_at else "preliminary"
    out = []
    for code, display, field, unit in DOSE:
        value = getattr(procedure, field)
        if value is not None:
            coded = concept(DCM, code, display)
            out.append(_observation(exam, field, coded, PROCEDURE, status, _quantity(value, unit)))
    return out


def tube_decision(exam) -> list:
    disposition = getattr(exam, "disposition", None)
    if disposition is None:
        return []
    code = concept(f"{CODES}/finding", "tube-decision", "Tube decision")
    answer = concept(
        f"{CODES}/tube-decision", disposition.decision, disposition.get_decision_display()
    )
    value = {"valueCodeableConcept": answer, "note": [{"text": disposition.reason}]}
    return [_observation(exam, "tube_decision", code, PROCEDURE, "final", value)]


def drainage(exam) -> list:
    """The latest finished analysis: a suggestion until a radiologist reviews it."""
    finished = [a for a in exam.drainage_analyses.all() if a.verdict]
    analysis = max(finished, key=lambda a: a.created_at, default=None)
    if analysis is None:
        return []
    review = getattr(analysis, "review", None)
    verdict = review.verdict if review is not None else analysis.verdict
    reviewed = f"reviewed: {review.get_decision_display()}" if review else "not yet reviewed"
    code = concept(f"{CODES}/finding", "drainage-verdict", "Drainage analysis verdict")
    value = {
        "valueCodeableConcept": concept(f"{CODES}/drainage-verdict", verdict, verdict),
        # A machine suggestion (device-generated) until a radiologist confirms it.
        "method": {"text": "Automated drainage analysis of the nephrostogram films"},
        "note": [{"text": f"Device-generated suggestion, {reviewed}"}],
    }
    status = "final" if review is not None else "preliminary"
    return [_observation(exam, "drainage", code, IMAGING, status, value)]


def for_exam(exam, report_status: str) -> list:
    """Everything the report of ``exam`` rests on, in a stable order."""
    return findings(exam, report_status) + dose(exam) + tube_decision(exam) + drainage(exam)
