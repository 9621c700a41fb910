"""Patient updates in: ADT^A08 (update patient information) and ADT^A31 (update person).

The hospital's record is the master: names, sex, date of birth and phone follow it. The
values before the change are kept in the audit event, so an administrator can see and
restore them. The MRN itself never changes here (that is a merge, ADT^A40).
"""

from __future__ import annotations

import hl7
from django.db import transaction

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.hl7 import codes
from nephro.hl7.fields import Refused, hl7_date, host_of, required, value
from nephro.patients.models import Patient

FIELDS = ("family_name", "given_name", "birth_date", "sex", "phone")


def _incoming(message: hl7.Message) -> dict:
    found = {
        "family_name": value(message, "PID.5.1"),
        "given_name": value(message, "PID.5.2"),
        "sex": codes.SEXES.get(value(message, "PID.8"), ""),
        "phone": value(message, "PID.13.1"),
    }
    born = value(message, "PID.7")
    if born:
        found["birth_date"] = hl7_date(born, "date of birth")
    # An empty field means "not sent", not "erase" (HL7 '""' would erase; not supported).
    return {k: v for k, v in found.items() if v}


def update(message: hl7.Message, peer: str) -> str:
    mrn = required(message, "PID.3.1", "patient MRN")
    actor = Actor.system(f"hl7:{value(message, 'MSH.3')}", address=host_of(peer))
    with transaction.atomic():
        patient = Patient.objects.select_for_update().filter(mrn__iexact=mrn).first()
        if patient is None:
            raise Refused(f"no patient with MRN {mrn} here; nothing to update")
        changes = {k: v for k, v in _incoming(message).items() if getattr(patient, k) != v}
        if not changes:
            return "no change"
        before = {k: str(getattr(patient, k)) for k in changes}
        for key, new in changes.items():
            setattr(patient, key, new)
        patient.save(update_fields=list(changes))
        record(
            actor,
            "patient.update",
            patient,
            detail={"before": before, "after": {k: str(v) for k, v in changes.items()}},
        )
    return "patient updated: " + ", ".join(sorted(changes))
