"""Orders in: ORM^O01 and OMG^O19 (new, cancel, change), read into plain values and
handed to nephro.hl7.ordering. The ordering provider (ORC-12) is the one who acts; the
patient class comes from PV1-2 (codes.PATIENT_CLASSES)."""

from __future__ import annotations

import hl7

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams.models import PatientClass
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
        values = _order_values(message, PatientClass.OUTPATIENT)
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
        ordering.change(actor, order, _order_values(message, order.patient_class), via="hl7")
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


def _order_values(message: hl7.Message, unstated_class: str) -> ordering.OrderValues:
    """The order's values; ``unstated_class``: the patient class when PV1-2 does not say
    (an outpatient for a new order; a change keeps the order's)."""
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
        patient_class=_patient_class(message, unstated_class),
    )


def _patient_class(message: hl7.Message, unstated: str) -> str:
    """PV1-2, or ``unstated`` when the message has no PV1 or PV1-2 is empty."""
    code = value(message, "PV1.2")
    if not code:
        return unstated
    if code not in codes.PATIENT_CLASSES:
        known = ", ".join(codes.PATIENT_CLASSES)
        raise Refused(f"patient class {code!r} (PV1-2) is not one of {known}")
    return codes.PATIENT_CLASSES[code]
