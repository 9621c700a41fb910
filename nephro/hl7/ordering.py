"""Order writes shared by the two doors from the hospital (HL7 ORM/OMG and FHIR
ServiceRequest): place, change and cancel an order known by the hospital's number.

Each calls the exam services (nephro.exams.services); the hospital's number is kept in
PlacerOrder so a later change or cancel, or a repeated create, finds the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from nephro.accounts.models import User
from nephro.accounts.roles import Role
from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams import services as exam_services
from nephro.exams.lifecycle import IllegalTransition, State
from nephro.exams.models import Exam, Order
from nephro.hl7.fields import Refused
from nephro.hl7.models import PlacerOrder
from nephro.patients.models import Patient
from nephro.tubes.models import Tube, TubeStatus

# Exams an order change may still touch: nothing has been done to the patient yet.
CHANGEABLE = (State.ORDERED, State.SCREENED, State.SCHEDULED, State.ON_HOLD)


@dataclass(frozen=True)
class OrderValues:
    sides: list[str]
    indication: str
    clinical_question: str
    urgency: str
    patient_class: str  # nephro.exams.models.PatientClass


def find(application: str, number: str) -> Order | None:
    link = PlacerOrder.objects.filter(placer_application=application, placer_number=number)
    found = link.select_related("order").first()
    return found.order if found is not None else None


def referrer_for(provider: str, family: str = "", given: str = "") -> User:
    """The ordering provider: a Nephro referrer with that user name, or a referrer account
    ``ext-<id>`` without a password (it cannot sign in), made the first time."""
    username = f"ext-{provider}"[:150]
    user = User.objects.filter(username__in=[provider, username]).first()
    if user is not None:
        if user.role != Role.REFERRER:
            raise Refused(f"ordering provider {provider} is not a referrer here")
        return user
    user = User(username=username, role=Role.REFERRER, last_name=family, first_name=given)
    user.set_unusable_password()
    user.save()
    record(Actor.system("hl7"), "hl7.referrer_created", detail={"provider": provider})
    return user


def place(
    actor: Actor,
    patient: Patient,
    referrer: User,
    values: OrderValues,
    *,
    application: str,
    number: str,
) -> list[Exam]:
    if find(application, number) is not None:
        raise Refused(f"order number {number} was already placed; change it instead")
    tubes = {
        side: Tube.objects.filter(patient=patient, side=side)
        .exclude(status=TubeStatus.REMOVED)
        .first()
        for side in values.sides
    }
    with transaction.atomic():
        exams = exam_services.create_order(
            actor,
            patient=patient,
            referrer=referrer,
            sides=values.sides,
            tubes=tubes,
            indication=values.indication,
            clinical_question=values.clinical_question,
            urgency=values.urgency,
            patient_class=values.patient_class,
        )
        PlacerOrder.objects.create(
            placer_application=application, placer_number=number, order=exams[0].order
        )
    return exams


def cancel(actor: Actor, order: Order, reason: str) -> None:
    with transaction.atomic():
        for exam in order.exams.exclude(state=State.CANCELLED):
            try:
                exam_services.cancel(actor, exam.pk, reason)
            except IllegalTransition as exc:
                raise Refused(f"exam {exam.accession_number} cannot be cancelled: {exc}") from exc


def change(actor: Actor, order: Order, values: OrderValues, *, via: str) -> None:
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        exams = list(Exam.objects.filter(order=locked))
        if sorted(e.side for e in exams) != sorted(values.sides):
            raise Refused("a change cannot add or remove a side; cancel and order again")
        if any(e.state not in CHANGEABLE for e in exams):
            raise Refused("the study has begun; the order can no longer be changed")
        fields = ("indication", "clinical_question", "urgency", "patient_class")
        before = {k: getattr(locked, k) for k in fields}
        for key in fields:
            setattr(locked, key, getattr(values, key))
        locked.save()
        record(actor, "order.change", locked, detail={"before": before, "via": via})
