"""Orders in: ORM^O01 and OMG^O19 (new, cancel, change) through the exam services.

The hospital's order number (ORC-2) is kept in PlacerOrder, so a cancel or change finds
the order it created. The ordering provider (ORC-12) acts: known by their user name, or
given a referrer account without a password (they cannot sign in) the first time.
"""

from __future__ import annotations

import hl7
from django.db import transaction
from django.db.models import Q

from nephro.accounts.models import User
from nephro.accounts.roles import Role
from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams import services as exam_services
from nephro.exams.lifecycle import IllegalTransition, State
from nephro.exams.models import Exam, Order
from nephro.hl7 import codes
from nephro.hl7.fields import Refused, hl7_date, required, value
from nephro.hl7.models import PlacerOrder
from nephro.patients.models import Patient
from nephro.tubes.models import Tube, TubeStatus

# Exams an order change may still touch: nothing has been done to the patient yet.
CHANGEABLE = (State.ORDERED, State.SCREENED, State.SCHEDULED, State.ON_HOLD)


def handle(message: hl7.Message, peer: str) -> str:
    control = required(message, "ORC.1", "order control")
    placer = required(message, "ORC.2.1", "placer order number")
    application = value(message, "ORC.2.2") or value(message, "MSH.3")
    referrer = _referrer(message)
    actor = Actor(user=referrer, address=peer or None)
    if control == codes.NEW:
        return _new(message, actor, application, placer)
    link = (
        PlacerOrder.objects.filter(placer_application=application, placer_number=placer)
        .select_related("order")
        .first()
    )
    if link is None:
        raise Refused(f"no order with placer number {placer} from {application}")
    if control == codes.CANCEL:
        return _cancel(message, actor, link.order)
    if control == codes.CHANGE:
        return _change(message, actor, link.order)
    raise Refused(f"order control {control!r} is not supported (NW, CA, XO are)")


def _referrer(message: hl7.Message) -> User:
    provider = required(message, "ORC.12.1", "ordering provider")
    username = f"ext-{provider}"[:150]
    user = User.objects.filter(Q(username=provider) | Q(username=username)).first()
    if user is not None:
        if user.role != Role.REFERRER:
            raise Refused(f"ordering provider {provider} is not a referrer here")
        return user
    user = User(
        username=username,
        role=Role.REFERRER,
        last_name=value(message, "ORC.12.2"),
        first_name=value(message, "ORC.12.3"),
    )
    user.set_unusable_password()
    user.save()
    record(Actor.system("hl7"), "hl7.referrer_created", detail={"provider": provider})
    return user


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


def _order_values(message: hl7.Message) -> dict:
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
    return {
        "sides": codes.SERVICES[service],
        "indication": indication,
        "clinical_question": required(message, "OBR.13", "relevant clinical information"),
        "urgency": codes.PRIORITIES[priority],
    }


def _new(message: hl7.Message, actor: Actor, application: str, placer: str) -> str:
    if PlacerOrder.objects.filter(placer_application=application, placer_number=placer).exists():
        raise Refused(f"placer order number {placer} was already ordered; send XO to change it")
    order_values = _order_values(message)
    with transaction.atomic():
        patient = _patient(message, actor)
        tubes = {
            side: Tube.objects.filter(patient=patient, side=side)
            .exclude(status=TubeStatus.REMOVED)
            .first()
            for side in order_values["sides"]
        }
        exams = exam_services.create_order(
            actor, patient=patient, referrer=actor.user, tubes=tubes, **order_values
        )
        PlacerOrder.objects.create(
            placer_application=application, placer_number=placer, order=exams[0].order
        )
    return "order created: " + ", ".join(e.accession_number for e in exams)


def _cancel(message: hl7.Message, actor: Actor, order: Order) -> str:
    reason = (
        value(message, "ORC.16.2")
        or value(message, "ORC.16.1")
        or "cancelled by the ordering system"
    )
    with transaction.atomic():
        for exam in order.exams.exclude(state=State.CANCELLED):
            try:
                exam_services.cancel(actor, exam.pk, reason)
            except IllegalTransition as exc:
                raise Refused(f"exam {exam.accession_number} cannot be cancelled: {exc}") from exc
    return "order cancelled"


def _change(message: hl7.Message, actor: Actor, order: Order) -> str:
    order_values = _order_values(message)
    sides = order_values.pop("sides")
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        exams = list(Exam.objects.filter(order=locked))
        if sorted(e.side for e in exams) != sorted(sides):
            raise Refused("a change cannot add or remove a side; cancel and order again")
        if any(e.state not in CHANGEABLE for e in exams):
            raise Refused("the study has begun; the order can no longer be changed")
        before = {k: getattr(locked, k) for k in order_values}
        for key, new in order_values.items():
            setattr(locked, key, new)
        locked.save()
        record(actor, "order.change", locked, detail={"before": before, "via": "hl7"})
    return "order changed"
