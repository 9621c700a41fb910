"""How often a password reset may be asked for, counted from the audit trail.

Each request is an audit event, so the trail is the counter: no second store to keep in
step, and it works across processes. Over the limit, nothing is sent but the answer is
the same, so a caller learns neither whether an address has an account nor whether a
limit was reached.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent, Outcome
from nephro.audit.services import record

ACTION = "password.reset.request"
WINDOW = timedelta(hours=1)
# Enough for a person who mistypes or waits for a slow mail; too few to flood a mailbox.
PER_ADDRESS = 3
PER_CALLER = 10


def allow(actor: Actor, email: str) -> bool:
    """Record the request; True when a mail may be sent for it."""
    email = email.strip().lower()
    recent = AuditEvent.objects.filter(action=ACTION, at__gte=timezone.now() - WINDOW)
    recent = recent.exclude(outcome=Outcome.DENIED)
    over = (
        recent.filter(detail__email=email).count() >= PER_ADDRESS
        or actor.address is not None
        and recent.filter(source_address=actor.address).count() >= PER_CALLER
    )
    record(
        actor,
        ACTION,
        outcome=Outcome.DENIED if over else Outcome.SUCCESS,
        detail={"email": email, **({"why": "rate limit"} if over else {})},
    )
    return not over
