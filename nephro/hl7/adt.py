"""Patient updates in: ADT^A08 (update patient information), ADT^A31 (update person)
and ADT^A40 (merge patient).

The hospital's record is the master: names, sex, date of birth and phone follow it. The
values before the change are kept in the audit event, so an administrator can see and
restore them. The MRN itself never changes here: an A40 merges the record named in MRG-1
into the one in PID-3 (patients.merge, which an administrator can reverse).
"""

from __future__ import annotations

import hl7
from django.db import transaction

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.hl7 import codes
from nephro.hl7.fields import Refused, hl7_date, host_of, required, value
from nephro.patients.merge import merge_patients
from nephro.patients.models import Patient
from nephro.patients.services import PatientError

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


def _sender(message: hl7.Message, peer: str) -> Actor:
    return Actor.system(f"hl7:{value(message, 'MSH.3')}", address=host_of(peer))


def update(message: hl7.Message, peer: str) -> str:
    mrn = required(message, "PID.3.1", "patient MRN")
    actor = _sender(message, peer)
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


def merge(message: hl7.Message, peer: str) -> str:
    """ADT^A40: PID-3 is the record that stays, MRG-1 the record merged into it."""
    names = [str(seg[0]) for seg in message]
    if names.count("PID") != 1 or names.count("MRG") != 1:
        raise Refused("one merge per message: one PID and one MRG segment", "AR")
    kept_mrn = required(message, "PID.3.1", "surviving patient MRN")
    merged_mrn = required(message, "MRG.1.1", "MRN of the record merged away")
    if kept_mrn.upper() == merged_mrn.upper():
        raise Refused(f"PID-3 and MRG-1 name the same record ({kept_mrn}); nothing to merge")
    kept, merged = (_record(mrn) for mrn in (kept_mrn, merged_mrn))
    born = value(message, "PID.7")
    if born and hl7_date(born, "date of birth") != kept.birth_date:
        raise Refused(f"PID-7 date of birth does not match MRN {kept_mrn}; not merged")
    for patient in (kept, merged):
        if patient.merged_into_id is not None:
            into = patient.merged_into.mrn if patient.merged_into else "?"
            raise Refused(f"MRN {patient.mrn} was already merged into MRN {into}; not merged")
    control_id, event_reason = value(message, "MSH.10"), value(message, "EVN.4")
    reason = f"ADT^A40 {control_id}" + (f": {event_reason}" if event_reason else "")
    try:
        merge_patients(_sender(message, peer), kept_id=kept.pk, merged_id=merged.pk, reason=reason)
    except PatientError as exc:
        raise Refused(f"not merged: {exc}") from exc
    return f"MRN {merged.mrn} merged into MRN {kept.mrn}"


def _record(mrn: str) -> Patient:
    patient = Patient.objects.select_related("merged_into").filter(mrn__iexact=mrn).first()
    if patient is None:
        raise Refused(f"no patient with MRN {mrn} here; nothing merged")
    return patient
