"""Portal invitations: a one-time, expiring link that lets a patient make an account."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from nephro.patients.models import Patient


def token_hash(token: str) -> str:
    # Only the hash is stored, so a copy of the database does not hold usable links.
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="invitations")
    email = models.EmailField()
    # The language the patient reads; e-mails to the patient use it.
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # Set when a newer invitation for the same patient replaces this one.
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The patient confirms their birth date with the link; wrong dates count towards the
    # same lockout as sign-ins (nephro.accounts.lockout.INVITATION).
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    # The form's one-time token (nephro.lib.once): Back + send again sends nothing new.
    submission = models.UUIDField(unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def audit_patient(self) -> Patient:
        return self.patient

    def state(self, now=None) -> str:
        now = now or timezone.now()
        if self.used_at:
            return "used"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "open"
