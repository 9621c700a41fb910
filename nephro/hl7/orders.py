"""Orders in: ORM^O01 and OMG^O19 (new, cancel, change), read into plain values and
handed to nephro.hl7.ordering. The ordering provider (ORC-12) is the one who acts."""

from __future__ import annotations

import hl7

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.hl7 import codes, ordering
from nephro.hl7.fields import Refused, hl7_date, host_of, required, value
from nephro.patients.models import Patient


def handle(message: hl7.Message, peer: str) -> str:
    control = required(message, "ORC.1", "order control")
    placer = required(message, "ORC.2.1", "placer order number")
    application = value(message, "ORC.2.2") or value(message, "MSH.3")
    referrer = ordering.referrer_for(
        required(message, "ORC.12.1", "ordering provider"),
        value(message, "ORC.12.2"),
        value(message, "ORC.12.3"),
    )
    actor = Actor(user=referrer, address=host_of(peer))
    if control == codes.NEW:
        values = _order_values(message)
        patient = _patient(message, actor)
        exams = ordering.place(
            actor, patient, referrer, values, application=application, number=placer
        )
        return "order created: " + ", ".join(e.accession_number for e in exams)
    order = ordering.find(application, placer)
    if order is None:
        raise Refused(f"no order with placer number {placer} from {application}")
    if control == codes.CANCEL:
        reason = value(message, "ORC.16.2") or value(message, "ORC.16.1")
        ordering.cancel(actor, order, reason or "cancelled by the ordering system")
        return "order cancelled"
    if control == codes.CHANGE:
        ordering.change(actor, order, _order_values(message), via="hl7")
        return "order changed"
    raise Refused(f"order control {control!r} is not supported (NW, CA, XO are)")


def _patient(message: hl7.Message, actor: Actor) -> Patient:
    """The patient by MRN (PID-3); an existing record must have the same date of birth."""
    mrn = required(message, "PID.3.1", "patient MRN")
    born = hl7_date(required(message, "PID.7", "date of birth"), "date of birth")
    patient = Patient.objects.filter(mrn__iexact=mrn).first()
    if patient is not None:
        if patient.birth_date != born:
            record(actor, "hl7.patient_mismatch", patient, outcome="failed", detail={"mrn": mrn})
            raise Refused(f"MRN {mrn} is registered here with another date of birth")
        return patient
    sex = codes.SEXES.get(value(message, "PID.8"), codes.SEXES["U"])
    patient = Patient.objects.create(
        mrn=mrn,
        family_name=required(message, "PID.5.1", "family name"),
        given_name=value(message, "PID.5.2"),
        birth_date=born,
        sex=sex,
        registered_by=actor.user,
    )
    record(actor, "patient.create", patient, detail={"via": "hl7"})
    return patient


def _order_values(message: hl7.Message) -> ordering.OrderValues:
    service = required(message, "OBR.4.1", "universal service ID")
    if service not in codes.SERVICES:
        known = ", ".join(codes.SERVICES)
        raise Refused(f"service {service!r} (OBR-4) is not offered; use one of {known}")
    indication = required(message, "OBR.31.1", "reason for study")
    if indication not in codes.INDICATIONS:
        known = ", ".join(sorted(codes.INDICATIONS))
        raise Refused(f"reason for study {indication!r} (OBR-31) is not one of {known}")
    priority = value(message, "ORC.7.6") or value(message, "TQ1.9.1") or value(message, "OBR.27.6")
    if priority not in codes.PRIORITIES:
        raise Refused(f"priority {priority!r} is not S, A or R")
    return ordering.OrderValues(
        sides=codes.SERVICES[service],
        indication=indication,
        clinical_question=required(message, "OBR.13", "relevant clinical information"),
        urgency=codes.PRIORITIES[priority],
    )
