"""ImagingStudy <-> an exam and the DICOM instances stored for it (nephro.dicom.Instance)."""

from __future__ import annotations

from itertools import groupby

from fhir.resources.R4B.imagingstudy import ImagingStudy

from nephro.exams.lifecycle import State
from nephro.fhir.resources.common import (
    ACCESSION_SYSTEM,
    DCM,
    NEPHROSTOGRAM,
    build,
    identifier,
    instant,
    ref,
)

DICOM_UID = "urn:dicom:uid"


def _coding(code: str) -> dict:
    return {"system": DCM, "code": code}


def _series(uid: str, instances: list) -> dict:
    first = instances[0]
    return {
        "uid": uid,
        "number": first.series_number,
        "modality": _coding(first.modality or "RF"),
        "description": first.series_description or None,
        "numberOfInstances": len(instances),
        "instance": [
            {
                "uid": i.sop_instance_uid,
                "sopClass": {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{i.sop_class_uid}"},
                "number": i.instance_number,
            }
            for i in instances
        ],
    }


def status_of(exam, has_images: bool) -> str:
    if exam.state == State.CANCELLED:
        return "cancelled"
    return "available" if has_images else "registered"


def to_fhir(exam, instances: list) -> ImagingStudy:
    """``instances``: the exam's Instance rows, ordered by series."""
    series = [
        {k: v for k, v in _series(uid, list(group)).items() if v is not None}
        for uid, group in groupby(instances, key=lambda i: i.series_instance_uid)
    ]
    return build(
        ImagingStudy,
        {
            "resourceType": "ImagingStudy",
            "id": str(exam.pk),
            "identifier": [
                {"system": DICOM_UID, "value": f"urn:oid:{exam.study_instance_uid}"},
                identifier(ACCESSION_SYSTEM, exam.accession_number, "ACSN"),
            ],
            "status": status_of(exam, bool(instances)),
            "modality": [_coding(exam.modality)],
            "subject": ref("Patient", exam.patient_id),
            "encounter": ref("Encounter", exam.pk),
            "basedOn": [ref("ServiceRequest", exam.pk)],
            "started": instant(exam.started_at),
            "numberOfSeries": len(series),
            "numberOfInstances": len(instances),
            "procedureCode": [NEPHROSTOGRAM],
            "series": series,
        },
        exam.updated_at,
    )
