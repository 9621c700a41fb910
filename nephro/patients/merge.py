"""Merging two records of one person, by an administrator, with an audit trail.

Everything that hangs off the merged record (orders, exams, tubes, invitations,
allergies, referrers' access, the portal account when the kept record has none) moves
to the kept record; the merged record stays, marked `merged_into`, and a PatientMerge
row keeps the moved ids and the merged record's details so the merge can be reversed.
Relations are reached through the reverse managers, so this app imports no other app.
"""

from __future__ import annotations

from django.db import transaction

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.patients.models import Patient, PatientMerge
from nephro.patients.services import PatientError

# The reverse relations whose rows move to the kept record.
MOVED_RELATIONS = ("orders", "exams", "tubes", "invitations", "allergies")
SNAPSHOT_FIELDS = ("mrn", "family_name", "given_name", "birth_date", "sex", "phone", "email")


def merge_patients(actor: Actor, *, kept_id: int, merged_id: int, reason: str) -> PatientMerge:
    if not reason.strip():
        raise PatientError("a merge needs a reason")
    if kept_id == merged_id:
        raise PatientError("choose two different records")
    with transaction.atomic():
        kept, merged = (
            Patient.objects.select_for_update().get(pk=pk) for pk in (kept_id, merged_id)
        )
        if kept.merged_into_id or merged.merged_into_id:
            raise PatientError("one of these records was already merged")
        moved = {name: _move(getattr(merged, name), kept) for name in MOVED_RELATIONS}
        moved["referrers"] = list(merged.referrers.values_list("pk", flat=True))
        kept.referrers.add(*moved["referrers"])
        moved["user"] = _move_account(merged, kept)
        snapshot = {f: str(getattr(merged, f)) for f in SNAPSHOT_FIELDS}
        merged.merged_into = kept
        merged.save(update_fields=["merged_into", "user"])
        merge = PatientMerge.objects.create(
            kept=kept,
            merged=merged,
            reason=reason.strip(),
            moved=moved,
            snapshot=snapshot,
            merged_by=actor.user,
        )
        detail = {"kept": kept.mrn, "merged": merged.mrn, "moved": moved, "reason": reason}
        record(actor, "patient.merge", kept, detail=detail)
        record(actor, "patient.merged_into", merged, detail=detail)
    return merge


def _move(manager, kept: Patient) -> list[int]:
    ids = list(manager.values_list("pk", flat=True))
    manager.model.objects.filter(pk__in=ids).update(patient=kept)
    return ids


def _move_account(merged: Patient, kept: Patient) -> int | None:
    """The merged record's portal account follows when the kept record has none."""
    if merged.user_id is None or kept.user_id is not None:
        return None
    user_id, merged.user = merged.user_id, None
    merged.save(update_fields=["user"])
    kept.user_id = user_id
    kept.save(update_fields=["user"])
    return user_id
