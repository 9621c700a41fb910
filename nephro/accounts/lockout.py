"""Lockout after repeated failures, counted in the database in one statement each.

An attempt is counted *before* the secret is checked (`claim`), by an UPDATE that only
succeeds while the row is unlocked and under the limit, so parallel requests cannot
each read the same old count: at most NEPHRO_LOCKOUT_ATTEMPTS secrets are ever checked
per lockout period, however many arrive at once. Used for sign-in (the user's
password) and for invitations (the patient's birth date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone


@dataclass(frozen=True)
class Lockout:
    """The counter field of a model that also has a nullable `locked_until`."""

    field: str

    def claim(self, rows: QuerySet) -> bool:
        """Count one attempt on the row; False when it is locked (nothing to check)."""
        now = timezone.now()
        rows.filter(locked_until__lte=now).update(**{self.field: 0, "locked_until": None})
        under_limit = {
            "locked_until__isnull": True,
            f"{self.field}__lt": settings.NEPHRO_LOCKOUT_ATTEMPTS,
        }
        return rows.filter(**under_limit).update(**{self.field: F(self.field) + 1}) == 1

    def failed(self, rows: QuerySet) -> None:
        """After a wrong secret: lock the row once its counted attempts reach the limit."""
        until = timezone.now() + timedelta(minutes=settings.NEPHRO_LOCKOUT_MINUTES)
        at_limit = {
            "locked_until__isnull": True,
            f"{self.field}__gte": settings.NEPHRO_LOCKOUT_ATTEMPTS,
        }
        rows.filter(**at_limit).update(locked_until=until)

    def clear(self, rows: QuerySet) -> None:
        rows.update(**{self.field: 0, "locked_until": None})


SIGN_IN = Lockout("failed_logins")
INVITATION = Lockout("failed_attempts")
