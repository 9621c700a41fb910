"""The append-only audit trail.

Each event stores the SHA-256 of its own content and of the event before it, so an
edited, deleted or reordered row breaks the chain (`nephro audit_verify`).
"""

import hashlib
import json

from django.db import models


class AuditError(Exception):
    pass


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    DENIED = "denied", "Denied"
    FAILED = "failed", "Failed"


class ChainHead(models.Model):
    """One row, locked while an event is appended, so the chain stays linear."""

    last_hash = models.CharField(max_length=64, default="0" * 64)
    count = models.PositiveBigIntegerField(default=0)


class AuditEvent(models.Model):
    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    username = models.CharField(max_length=150, blank=True)
    user_id_ref = models.BigIntegerField(null=True, blank=True)
    role = models.CharField(max_length=20, blank=True)
    # The person a system component or a member of staff acted for (audit.actor.Actor).
    on_behalf_of = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=60, db_index=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # A plain reference, not a foreign key: the trail must outlive any record it names.
    patient_ref = models.BigIntegerField(null=True, blank=True, db_index=True)
    patient_mrn = models.CharField(max_length=64, blank=True)  # indexed with `at`: Meta
    source_address = models.GenericIPAddressField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        # A patient's history, over a period or all of it (the audit search).
        indexes = [models.Index(fields=["patient_mrn", "at"], name="audit_patient_time")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AuditError("audit events are append-only")
        super().save(*args, **kwargs)

    def content(self) -> dict:
        content = {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "username": self.username,
            "user_id": self.user_id_ref,
            "role": self.role,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "patient": self.patient_ref,
            "mrn": self.patient_mrn,
            "source": self.source_address,
            "outcome": self.outcome,
            "detail": self.detail,
            "prev": self.prev_hash,
        }
        # Only when set, so events written before the field existed keep their hash.
        if self.on_behalf_of:
            content["on_behalf_of"] = self.on_behalf_of
        return content

    def compute_hash(self) -> str:
        payload = json.dumps(self.content(), sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    def delete(self, *args, **kwargs):
        raise AuditError("audit events are append-only")
