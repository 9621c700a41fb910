"""Merging two records of one person, and reversing a merge, with an audit trail.

A merge comes from an administrator (the merge page) or from the hospital (ADT^A40, the
HL7 listener's named actor). Everything that hangs off the merged record (orders, exams,
tubes, invitations, allergies, referrers' access, the portal account when the kept record
has none) moves to the kept record; the merged record stays, marked `merged_into`, and a
PatientMerge row keeps the moved ids and the merged record's details. An administrator's
`unmerge` moves exactly those rows back. Relations are reached through the reverse
managers, so this app imports no other app.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

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
    if not actor.name:
        raise PatientError("a merge needs a person or a named system")
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
        # Only the access the kept record gains is taken back by an unmerge.
        had = set(kept.referrers.values_list("pk", flat=True))
        moved["referrers_added"] = [pk for pk in moved["referrers"] if pk not in had]
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
            merged_by_component="" if actor.user else actor.component,
        )
        detail = {"kept": kept.mrn, "merged": merged.mrn, "moved": moved, "reason": reason}
        record(actor, "patient.merge", kept, detail=detail)
        record(actor, "patient.merged_into", merged, detail=detail)
    return merge


def unmerge(actor: Actor, merge_id: int) -> PatientMerge:
    """Move back exactly the rows the merge moved (and the account); the merge row stays,
    marked reversed. Rows added to the kept record since the merge stay where they are."""
    with transaction.atomic():
        merge = PatientMerge.objects.select_for_update().filter(pk=merge_id).first()
        if merge is None:
            raise PatientError("no such merge")
        if merge.reversed_at is not None:
            raise PatientError("this merge was already reversed")
        kept, merged = (
            Patient.objects.select_for_update().get(pk=pk)
            for pk in (merge.kept_id, merge.merged_id)
        )
        if kept.merged_into_id is not None:
            raise PatientError(
                f"MRN {kept.mrn} was merged into another record since; undo that first"
            )
        moved = merge.moved
        back = {
            name: _move_back(getattr(kept, name), moved.get(name, []), merged)
            for name in MOVED_RELATIONS
        }
        kept.referrers.remove(*moved.get("referrers_added", []))
        back["user"] = _account_back(moved.get("user"), kept, merged)
        merged.merged_into = None
        merged.save(update_fields=["merged_into"])
        merge.reversed_at, merge.reversed_by = timezone.now(), actor.user
        merge.save(update_fields=["reversed_at", "reversed_by"])
        detail = {"kept": kept.mrn, "merged": merged.mrn, "moved_back": back, "merge": merge.pk}
        record(actor, "patient.unmerge", kept, detail=detail)
        record(actor, "patient.unmerged", merged, detail=detail)
    return merge


def _move(manager, kept: Patient) -> list[int]:
    ids = list(manager.values_list("pk", flat=True))
    manager.model.objects.filter(pk__in=ids).update(patient=kept)
    return ids


def _move_back(manager, ids: list[int], merged: Patient) -> list[int]:
    """The recorded rows still on the kept record go back (in id order)."""
    back = sorted(manager.filter(pk__in=ids).values_list("pk", flat=True))
    manager.model.objects.filter(pk__in=back).update(patient=merged)
    return back


def _move_account(merged: Patient, kept: Patient) -> int | None:
    """The merged record's portal account follows when the kept record has none."""
    if merged.user_id is None or kept.user_id is not None:
        return None
    user_id, merged.user = merged.user_id, None
    merged.save(update_fields=["user"])
    kept.user_id = user_id
    kept.save(update_fields=["user"])
    return user_id


def _account_back(user_id: int | None, kept: Patient, merged: Patient) -> int | None:
    if user_id is None or kept.user_id != user_id:
        return None
    kept.user = None
    kept.save(update_fields=["user"])
    merged.user_id = user_id
    merged.save(update_fields=["user"])
    return user_id
