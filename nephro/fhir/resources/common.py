"""Shared pieces of the FHIR mappings: identifier systems, codings, references, meta.

The identifier systems are this installation's; a hospital maps them in its interface
engine (docs/interfaces.md lists them).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

SID = "http://nephro.local/sid"
MRN_SYSTEM = f"{SID}/mrn"
ACCESSION_SYSTEM = f"{SID}/accession"
ORDER_SYSTEM = f"{SID}/order"
PLACER_SYSTEM = f"{SID}/placer"
CODES = "http://nephro.local/fhir/CodeSystem"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
UCUM = "http://unitsofmeasure.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

NEPHROSTOGRAM = {
    "coding": [
        {"system": f"{CODES}/procedure", "code": "nephrostogram", "display": "Nephrostogram"}
    ],
    "text": "Nephrostogram",
}
RADIOLOGY = {"coding": [{"system": V2_0074, "code": "RAD", "display": "Radiology"}]}


def ref(resource_type: str, pk: Any, display: str = "") -> dict:
    reference = {"reference": f"{resource_type}/{pk}"}
    if display:
        reference["display"] = display
    return reference


def concept(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def identifier(system: str, value: str, type_code: str = "") -> dict:
    ident: dict = {"system": system, "value": value}
    if type_code:
        ident["type"] = {"coding": [{"system": V2_0203, "code": type_code}]}
    return ident


def instant(moment: datetime | date | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def version_of(data: dict) -> str:
    """The resource's version: a digest of its content, so it changes when the content does
    (the ETag; If-Match compares against it)."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def build(model: type, data: dict, last_updated: datetime | None) -> Any:
    """Drop empty fields, stamp meta and validate through the fhir.resources model."""
    data = {k: v for k, v in data.items() if v not in (None, [], "", {})}
    meta: dict = {"versionId": version_of(data)}
    if last_updated is not None:
        meta["lastUpdated"] = last_updated.isoformat()
    return model.model_validate({**data, "meta": meta})
