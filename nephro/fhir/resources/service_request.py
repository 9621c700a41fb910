"""ServiceRequest <-> one exam (one kidney) of an order.

The order groups the exams of a bilateral referral: ``requisition`` carries its number.
"""

from fhir.resources.R4B.servicerequest import ServiceRequest

from nephro.exams.lifecycle import State
from nephro.fhir.resources.common import (
    ACCESSION_SYSTEM,
    NEPHROSTOGRAM,
    ORDER_SYSTEM,
    build,
    identifier,
    instant,
    ref,
)

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
            "identifier": [identifier(ACCESSION_SYSTEM, exam.accession_number, "ACSN")],
            "requisition": identifier(ORDER_SYSTEM, str(order.pk), "PLAC"),
            "status": status_of(exam),
            "intent": "order",
            "priority": PRIORITY.get(order.urgency, "routine"),
            "code": NEPHROSTOGRAM,
            "bodySite": [{"text": f"{exam.get_side_display()} kidney"}],
            "subject": ref("Patient", exam.patient_id),
            "authoredOn": instant(order.created_at),
            "occurrenceDateTime": instant(exam.scheduled_at),
            "requester": {"display": str(order.referrer)},
            "reasonCode": [{"text": order.get_indication_display()}],
            "note": [{"text": order.clinical_question}],
        },
        exam.updated_at,
    )
