"""Procedure <-> what was done during the study (nephro.exams.Procedure): contrast, views,
fluoroscopy time, how it was tolerated. The dose itself is in Observations (observation.py)."""

from __future__ import annotations

from fhir.resources.R4B.procedure import Procedure

from nephro.exams.lifecycle import State
from nephro.fhir.resources.common import NEPHROSTOGRAM, build, instant, ref


def _notes(procedure) -> list[dict]:
    contrast = procedure.contrast_agent
    if procedure.contrast_volume_ml is not None:
        contrast = f"{contrast}, {procedure.contrast_volume_ml} mL"
    lines = [
        f"Contrast: {contrast}" if contrast else "",
        "Views: " + ", ".join(procedure.view_labels()) if procedure.views else "",
        f"Fluoroscopy time: {procedure.fluoro_time_s} s" if procedure.fluoro_time_s else "",
        f"Tolerance: {procedure.get_tolerance_display()}" if procedure.tolerance else "",
        f"Complications: {procedure.complications}" if procedure.complications else "",
    ]
    return [{"text": line} for line in lines if line]


def to_fhir(procedure) -> Procedure:
    exam = procedure.exam
    done = exam.completed_at is not None
    status = "completed" if done else "in-progress"
    if exam.state == State.CANCELLED:
        status = "stopped"
    return build(
        Procedure,
        {
            "resourceType": "Procedure",
            "id": str(exam.pk),
            "basedOn": [ref("ServiceRequest", exam.pk)],
            "status": status,
            "code": NEPHROSTOGRAM,
            "subject": ref("Patient", exam.patient_id),
            "encounter": ref("Encounter", exam.pk),
            "performedPeriod": {
                k: v
                for k, v in (
                    ("start", instant(exam.started_at)),
                    ("end", instant(exam.completed_at)),
                )
                if v
            },
            "bodySite": [{"text": f"{exam.get_side_display()} kidney"}],
            "focalDevice": ([{"manipulated": ref("Device", exam.tube_id)}] if exam.tube_id else []),
            "note": _notes(procedure),
        },
        procedure.updated_at,
    )
