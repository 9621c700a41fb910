"""AuditEvent <-> one event of Nephro's audit trail (nephro.audit.AuditEvent): who read or
changed which patient's record, when, from where, and how it went."""

from __future__ import annotations

from fhir.resources.R4B.auditevent import AuditEvent

from nephro.fhir.resources.common import CODES, DCM, build, ref

PATIENT_RECORD = {"system": DCM, "code": "110110", "display": "Patient Record"}
# Our outcome -> audit-event-outcome: 0 success, 4 minor failure, 8 serious failure.
OUTCOME = {"success": "0", "failed": "4", "denied": "8"}


def action_of(action: str) -> str:
    """audit-event-action: C create, R read (and search), U update, D delete, E execute."""
    verb = action.rsplit(".", 1)[-1]
    if verb in ("read", "search", "view", "find"):
        return "R"
    if verb in ("create", "receive"):
        return "C"
    return "U" if verb in ("save", "edit", "update", "change") else "E"


def to_fhir(event) -> AuditEvent:
    agent = {"who": {"display": event.username or "anonymous"}, "requestor": True}
    if event.role:
        agent["role"] = [{"text": event.role}]
    if event.source_address:
        agent["network"] = {"address": event.source_address, "type": "2"}
    entities = []
    if event.patient_ref is not None:
        entities.append({"what": ref("Patient", event.patient_ref)})
    if event.object_type:
        entities.append({"what": {"display": f"{event.object_type} {event.object_id}".strip()}})
    return build(
        AuditEvent,
        {
            "resourceType": "AuditEvent",
            "id": str(event.seq),
            "type": PATIENT_RECORD,
            "subtype": [{"system": f"{CODES}/audit-action", "code": event.action}],
            "action": action_of(event.action),
            "recorded": event.at.isoformat(),
            "outcome": OUTCOME.get(event.outcome, "4"),
            "agent": [agent],
            "source": {"observer": {"display": "Nephro"}},
            "entity": entities,
        },
        event.at,
    )
