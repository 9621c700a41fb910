"""django-oauth-toolkit, made a SMART authorization server.

- ``SmartScopes``: the scope list is SMART's (nephro.fhir.smart).
- ``SmartValidator``: client authentication by ``private_key_jwt`` (RFC 7523, SMART Backend
  Services) besides DOT's secrets; a token carries only the scopes its holder's role
  allows; a patient's token response names the patient (SMART launch context); every
  token issued is written to the audit trail.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from jwcrypto import jwk, jws, jwt
from oauth2_provider.models import Application
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.fhir import smart
from nephro.fhir.models import ClientKey, UsedAssertion

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# SMART Backend Services: an assertion lives at most five minutes.
MAX_ASSERTION_LIFETIME = timedelta(minutes=5)


class SmartScopes(BaseScopes):
    def get_all_scopes(self):
        return smart.all_scopes()

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        return list(smart.all_scopes())

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return []


def token_url() -> str:
    return settings.NEPHRO_FHIR_BASE_URL.rsplit("/fhir", 1)[0] + "/o/token/"


def verify_assertion(assertion: str, application: Application) -> str | None:
    """The reason a client assertion is refused, or None when it proves the client."""
    key = ClientKey.objects.filter(application=application).first()
    if key is None:
        return "this client has no registered public key"
    try:
        token = jwt.JWT(
            jwt=assertion,
            key=jwk.JWKSet.from_json(json.dumps(key.jwks)),
            check_claims={"iss": application.client_id, "sub": application.client_id, "exp": None},
            expected_type="JWS",
        )
        claims = json.loads(token.claims)
    except (jwt.JWException, jws.InvalidJWSSignature, ValueError) as exc:
        return f"the assertion does not verify: {exc}"
    audience = claims.get("aud")
    if token_url() not in (audience if isinstance(audience, list) else [audience]):
        return "the assertion's audience is not this token endpoint"
    expires = datetime.fromtimestamp(claims["exp"], tz=UTC)
    if expires - timezone.now() > MAX_ASSERTION_LIFETIME or not claims.get("jti"):
        return "the assertion must carry a jti and expire within five minutes"
    try:
        with transaction.atomic():
            UsedAssertion.objects.create(jti=str(claims["jti"])[:200], expires_at=expires)
    except IntegrityError:
        return "this assertion was already used"
    return None


def _issuer(assertion: str) -> str:
    """The unverified ``iss`` of an assertion: only to find whose key verifies it."""
    try:
        payload = assertion.split(".")[1]
        return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iss"])
    except (IndexError, ValueError, KeyError, TypeError):
        return ""


def holder_role(request) -> str:
    if request.client.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS:
        return smart.SYSTEM_ROLE
    return getattr(request.user, "role", "")


def token_actor(application: Application, user) -> Actor:
    if user is not None and application.authorization_grant_type != (
        Application.GRANT_CLIENT_CREDENTIALS
    ):
        return Actor(user=user)
    return Actor.system(f"smart:{application.name or application.client_id}")


class SmartValidator(OAuth2Validator):
    def authenticate_client(self, request, *args, **kwargs):
        if request.client_assertion_type != JWT_BEARER:
            return super().authenticate_client(request, *args, **kwargs)
        client_id = request.client_id or _issuer(request.client_assertion or "")
        application = Application.objects.filter(client_id=client_id).first()
        reason = (
            verify_assertion(request.client_assertion or "", application)
            if application is not None
            else "unknown client"
        )
        if reason is not None:
            record(
                Actor.system(f"smart:{request.client_id}"),
                "smart.client_auth",
                outcome="failed",
                detail={"why": reason},
            )
            return False
        request.client, request.client_id = application, application.client_id
        return True

    def save_bearer_token(self, token, request, *args, **kwargs):
        role = holder_role(request)
        kept = [s for s in request.scopes if s in smart.LAUNCH_SCOPES or smart.effective(role, s)]
        request.scopes = kept
        token["scope"] = " ".join(kept)
        patient = getattr(request.user, "patient", None) if role == "patient" else None
        if patient is not None:
            token["patient"] = str(patient.pk)
        super().save_bearer_token(token, request, *args, **kwargs)
        record(
            token_actor(request.client, request.user),
            "smart.token",
            patient=patient,
            detail={"client": request.client.client_id, "scope": token["scope"]},
        )
