"""ServiceRequest <-> one exam (one kidney) of an order.

The order groups the exams of a bilateral referral: ``requisition`` carries its number.
A ServiceRequest sent to us (``from_fhir``) names both kidneys in ``bodySite`` when both
are to be studied, and carries the hospital's order number as an identifier.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir.resources.R4B.servicerequest import ServiceRequest

from nephro.exams.lifecycle import State
from nephro.exams.models import Indication
from nephro.fhir.resources.common import (
    ACCESSION_SYSTEM,
    CODES,
    NEPHROSTOGRAM,
    ORDER_SYSTEM,
    build,
    concept,
    identifier,
    instant,
    ref,
)

SIDE_SYSTEM = f"{CODES}/side"
INDICATION_SYSTEM = f"{CODES}/indication"

# Exam state -> request-status (R4 value set, required binding).
STATUS = {
    State.ON_HOLD: "on-hold",
    State.CANCELLED: "revoked",
    State.COMPLETED: "completed",
    State.REPORTED: "completed",
    State.FOLLOW_UP: "completed",
    State.CLOSED: "completed",
}
# Urgency -> request-priority: "soon" (within a week) is sooner than routine; "urgent"
# (today) is the next after stat, which the department does not offer.
PRIORITY = {"routine": "routine", "soon": "urgent", "urgent": "asap"}


def status_of(exam) -> str:
    return STATUS.get(exam.state, "active")


def to_fhir(exam) -> ServiceRequest:
    order = exam.order
    return build(
        ServiceRequest,
        {
            "resourceType": "ServiceRequest",
            "id": str(exam.pk),
            "identifier": [identifier(ACCESSION_SYSTEM, exam.accession_number, "ACSN")]
            + _placer(order),
            "requisition": identifier(ORDER_SYSTEM, str(order.pk), "PLAC"),
            "status": status_of(exam),
            "intent": "order",
            "priority": PRIORITY.get(order.urgency, "routine"),
            "code": NEPHROSTOGRAM,
            "bodySite": [concept(SIDE_SYSTEM, exam.side, f"{exam.get_side_display()} kidney")],
            "subject": ref("Patient", exam.patient_id),
            "authoredOn": instant(order.created_at),
            "occurrenceDateTime": instant(exam.scheduled_at),
            "requester": {"display": str(order.referrer)},
            "reasonCode": [
                concept(INDICATION_SYSTEM, order.indication, order.get_indication_display())
            ],
            "note": [{"text": order.clinical_question}],
        },
        exam.updated_at,
    )


def _placer(order) -> list[dict]:
    placer = getattr(order, "placer", None)
    if placer is None or not placer.placer_application.startswith("http"):
        return []
    return [identifier(placer.placer_application, placer.placer_number, "PLAC")]


class Unreadable(ValueError):
    """A ServiceRequest we cannot turn into an order, with the reason."""


@dataclass(frozen=True)
class RequestIn:
    patient_id: int
    sides: list[str]
    indication: str
    clinical_question: str
    urgency: str
    status: str
    order_number: tuple[str, str] | None  # (system, value): the hospital's number
    requester: str  # requester.identifier.value: the ordering provider


def _codes(concepts, system: str) -> list[str]:
    return [c.code for cc in concepts or [] for c in cc.coding or [] if c.system == system]


def from_fhir(data: dict) -> RequestIn:
    """Read a ServiceRequest (validated by its fhir.resources model) into plain values."""
    try:
        request = ServiceRequest.model_validate(data)
    except ValueError as exc:
        raise Unreadable(f"not a valid ServiceRequest: {exc}") from exc
    if request.status not in ("active", "revoked"):
        raise Unreadable("status must be active, or revoked to cancel")
    subject = request.subject.reference or ""
    if not subject.startswith("Patient/") or not subject[8:].isdigit():
        raise Unreadable("subject must be a Patient reference (Patient/<id>)")
    sides = sorted(set(_codes(request.bodySite, SIDE_SYSTEM)))
    if not sides or set(sides) - {"left", "right"}:
        raise Unreadable(f"bodySite must name left and/or right in {SIDE_SYSTEM}")
    indications = _codes(request.reasonCode, INDICATION_SYSTEM)
    if len(indications) != 1 or indications[0] not in Indication.values:
        raise Unreadable(f"reasonCode needs one of {', '.join(Indication.values)}")
    question = " ".join(n.text for n in request.note or [] if n.text).strip()
    if not question:
        raise Unreadable("note must carry the clinical question")
    urgency = {v: k for k, v in PRIORITY.items()}.get(request.priority or "routine")
    if urgency is None:
        raise Unreadable("priority must be routine, urgent or asap")
    numbers = [
        (i.system, i.value) for i in request.identifier or [] if i.system != ACCESSION_SYSTEM
    ]
    requester = request.requester.identifier if request.requester else None
    return RequestIn(
        patient_id=int(subject[8:]),
        sides=sides,
        indication=indications[0],
        clinical_question=question,
        urgency=urgency,
        status=request.status,
        order_number=numbers[0] if numbers else None,
        requester=(requester.value or "") if requester else "",
    )
