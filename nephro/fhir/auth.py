"""Who calls the FHIR API: the bearer token, its holder, and the SMART scopes that count.

The FHIR endpoints sit outside the page permission table's session check (they are
listed in ``permissions.TOKEN``): each one calls ``grant_for(request)`` and then
``grant.require(resource, access)``, deny by default. Records are then fetched through
the holder's scope (``nephro.exams.access``), so a patient's token reaches only that
patient, and a referrer's only their own patients.
"""

from __future__ import annotations

from dataclasses import dataclass

from oauth2_provider.models import Application
from oauth2_provider.oauth2_backends import get_oauthlib_core

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.fhir import smart


class FhirError(Exception):
    """An error answered with an OperationOutcome."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Grant:
    actor: Actor
    role: str
    scopes: frozenset[smart.Scope]

    @property
    def user(self):
        return self.actor.user

    def require(self, resource: str, access: str) -> None:
        if not smart.permits(self.scopes, resource, access, self.role):
            record(
                self.actor,
                "fhir.denied",
                outcome="denied",
                detail={"resource": resource, "access": access},
            )
            raise FhirError(403, "forbidden", f"this token may not {access} {resource}")


def grant_for(request) -> Grant:
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid:
        raise FhirError(401, "login", "a valid bearer token is required (SMART on FHIR)")
    token = oauth_request.access_token
    address = request.META.get("REMOTE_ADDR") or None
    if token.application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS:
        name = token.application.name or token.application.client_id
        actor = Actor.system(f"smart:{name}", address=address)
        role = smart.SYSTEM_ROLE
    else:
        actor = Actor(user=token.user, address=address)
        role = token.user.role
    return Grant(actor=actor, role=role, scopes=smart.effective(role, token.scope))
