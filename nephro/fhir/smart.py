"""SMART on FHIR scopes and who may hold them: pure rules, no Django, no HTTP.

A scope is ``context/Resource.access`` (SMART App Launch 1.0: ``patient/*.read``,
``user/DiagnosticReport.read``, ``system/ServiceRequest.write``); SMART 2.0's letters
(``.rs``, ``.cruds``) are read as the same two kinds of access. A token's scopes count
only as far as its holder's role allows (``ROLE_SCOPES``), so a scope granted by mistake,
or kept after a role change, opens nothing. Admin holds no clinical scope, as on the pages
(nephro/accounts/permissions.py: administration has no clinical records).
"""

from __future__ import annotations

from dataclasses import dataclass

RESOURCE_TYPES = (
    "Patient",
    "ServiceRequest",
    "Encounter",
    "DiagnosticReport",
    "Observation",
    "ImagingStudy",
    "Procedure",
    "Device",
    "QuestionnaireResponse",
    "AuditEvent",
)
CONTEXTS = ("patient", "user", "system")
READ, WRITE = "read", "write"
# Scopes with no FHIR access of their own: SMART launch context and identity.
LAUNCH_SCOPES = ("launch/patient", "openid", "fhirUser", "offline_access")

# SMART 2.0 letters -> the access they carry (c create, r read, u update, d delete, s search).
_V2_LETTERS = {"c": WRITE, "r": READ, "u": WRITE, "d": WRITE, "s": READ}

SYSTEM_ROLE = "system"
# Which scope contexts and accesses each role may use. The writes (ServiceRequest: place,
# change, cancel an order) follow the order and cancel pages' rows in permissions.py.
ORDER_WRITERS = frozenset({"referrer", "nurse", "radiologist", SYSTEM_ROLE})
ROLE_CONTEXT = {
    "patient": "patient",
    "referrer": "user",
    "nurse": "user",
    "technologist": "user",
    "radiologist": "user",
    SYSTEM_ROLE: "system",
}
WRITABLE = frozenset({"ServiceRequest"})
# The audit trail: as its search page (audit:search), radiologists; and systems (a
# hospital's audit repository). Administrators hold no clinical scope here.
AUDIT_READERS = frozenset({"radiologist", SYSTEM_ROLE})


@dataclass(frozen=True)
class Scope:
    context: str
    resource: str  # a resource type or "*"
    accesses: frozenset[str]

    def covers(self, resource: str, access: str) -> bool:
        return self.resource in ("*", resource) and access in self.accesses


def parse(text: str) -> Scope | None:
    """One scope string, or None for launch/identity scopes and anything malformed."""
    context, _, rest = text.partition("/")
    resource, _, access = rest.partition(".")
    if context not in CONTEXTS or (resource != "*" and resource not in RESOURCE_TYPES):
        return None
    if access == "*":
        return Scope(context, resource, frozenset({READ, WRITE}))
    if access in (READ, WRITE):
        return Scope(context, resource, frozenset({access}))
    if access and set(access) <= set(_V2_LETTERS):
        return Scope(context, resource, frozenset(_V2_LETTERS[c] for c in access))
    return None


def role_allows(role: str, scope: Scope) -> bool:
    """May a holder of ``role`` use ``scope`` at all? (The role x scope table.)"""
    if ROLE_CONTEXT.get(role) != scope.context:
        return False
    if WRITE in scope.accesses and role not in ORDER_WRITERS:
        # A mixed scope (read and write) still gives a reader its reads.
        return READ in scope.accesses
    return True


def effective(role: str, scope_text: str) -> frozenset[Scope]:
    """The scopes of a token, as far as its holder's role allows them."""
    scopes = (parse(s) for s in scope_text.split())
    return frozenset(s for s in scopes if s is not None and role_allows(role, s))


def permits(scopes: frozenset[Scope], resource: str, access: str, role: str) -> bool:
    if access == WRITE and (resource not in WRITABLE or role not in ORDER_WRITERS):
        return False
    if resource == "AuditEvent" and role not in AUDIT_READERS:
        return False
    return any(s.covers(resource, access) for s in scopes)


def all_scopes() -> dict[str, str]:
    """Every scope the server knows, with a line a person reads on the consent page."""
    known = {
        "launch/patient": "Know which patient you are",
        "openid": "Know who you are",
        "fhirUser": "Know who you are",
        "offline_access": "Stay connected when you are away",
    }
    who = {"patient": "your own", "user": "the", "system": "all"}
    for context in CONTEXTS:
        for resource in ("*", *RESOURCE_TYPES):
            label = "records" if resource == "*" else f"{resource} records"
            known[f"{context}/{resource}.read"] = f"Read {who[context]} {label}"
            known[f"{context}/{resource}.write"] = f"Change {who[context]} {label}"
            known[f"{context}/{resource}.*"] = f"Read and change {who[context]} {label}"
    return known
