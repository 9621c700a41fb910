"""Encounter <-> the patient's visit for one exam (read-only).

DiagnosticReport, ImagingStudy and Procedure point to it (US Core DiagnosticReport and
Procedure mark `encounter` must-support; IHE IMR's report carries it), so a hospital can
file results against the visit. The class is the order's patient class (v3-ActCode): AMB
(ambulatory) for an outpatient, IMP for an inpatient brought from the ward, EMER for a
patient sent from the emergency department.
"""

from __future__ import annotations

from fhir.resources.R4B.encounter import Encounter

from nephro.exams.lifecycle import State
from nephro.exams.models import PatientClass
from nephro.fhir.resources.common import NEPHROSTOGRAM, build, instant, ref

V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# The order's patient class -> Encounter.class (v3-ActCode, the R4 extensible value set).
CLASS = {
    PatientClass.OUTPATIENT: ("AMB", "ambulatory"),
    PatientClass.INPATIENT: ("IMP", "inpatient encounter"),
    PatientClass.EMERGENCY: ("EMER", "emergency"),
}

# The exam's state -> Encounter.status (R4 encounter-status). Before arrival the visit is
# planned; held exams count by whether the patient had arrived (exam.arrived_at).
STATUS = {
    State.ARRIVED: "arrived",
    State.PREPARED: "arrived",
    State.IN_PROGRESS: "in-progress",
    State.COMPLETED: "finished",
    State.REPORTED: "finished",
    State.FOLLOW_UP: "finished",
    State.CLOSED: "finished",
    State.CANCELLED: "cancelled",
}


def status_of(exam) -> str:
    if exam.state == State.ON_HOLD and exam.arrived_at is not None:
        return "arrived"
    return STATUS.get(exam.state, "planned")


def to_fhir(exam) -> Encounter:
    status = status_of(exam)
    code, display = CLASS[exam.order.patient_class]
    period = {"start": instant(exam.arrived_at)}
    if status == "finished":
        period["end"] = instant(exam.completed_at)
    return build(
        Encounter,
        {
            "resourceType": "Encounter",
            "id": str(exam.pk),
            "status": status,
            "class": {"system": V3_ACT_CODE, "code": code, "display": display},
            "type": [NEPHROSTOGRAM],
            "subject": ref("Patient", exam.patient_id),
            "basedOn": [ref("ServiceRequest", exam.pk)],
            "period": {k: v for k, v in period.items() if v},
        },
        exam.updated_at,
    )
