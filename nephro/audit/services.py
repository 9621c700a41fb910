"""Writing and checking the audit trail. Everything that touches patient data calls record()."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from nephro.audit.models import AuditEvent, ChainHead, Outcome


def _client_address(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    request,
    action: str,
    obj=None,
    *,
    patient=None,
    outcome: str = Outcome.SUCCESS,
    user=None,
    detail: dict | None = None,
    source_address: str | None = None,
) -> AuditEvent:
    """Append one event. `request` may be None for system actors (DICOM, worker)."""
    user = user if user is not None else getattr(request, "user", None)
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    if patient is None and obj is not None:
        patient = getattr(obj, "audit_patient", None)
    with transaction.atomic():
        head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
        event = AuditEvent(
            seq=head.count + 1,
            at=timezone.now(),
            username=user.get_username() if authenticated else (detail or {}).get("actor", ""),
            user_id_ref=user.pk if authenticated else None,
            role=getattr(user, "role", "") if authenticated else "",
            action=action,
            object_type=type(obj).__name__ if obj is not None else "",
            object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
            patient_ref=patient.pk if patient is not None else None,
            patient_mrn=patient.mrn if patient is not None else "",
            source_address=source_address or _client_address(request),
            outcome=outcome,
            detail=detail or {},
            prev_hash=head.last_hash,
        )
        event.hash = event.compute_hash()
        event.save()
        ChainHead.objects.filter(pk=1).update(last_hash=event.hash, count=event.seq)
    return event


@dataclass(frozen=True)
class Break:
    seq: int
    problem: str


def verify_chain() -> Iterator[Break]:
    """Yield every place where the stored chain does not match its content."""
    previous_hash = "0" * 64
    expected_seq = 1
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if event.seq != expected_seq:
            yield Break(event.seq, f"sequence gap: expected {expected_seq}")
        if event.prev_hash != previous_hash:
            yield Break(event.seq, "previous-hash link broken (event removed or reordered)")
        if event.compute_hash() != event.hash:
            yield Break(event.seq, "content does not match its hash (event edited)")
        previous_hash = event.hash
        expected_seq = event.seq + 1
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and head.count != expected_seq - 1:
        yield Break(expected_seq, f"chain head says {head.count} events, found {expected_seq - 1}")
