"""FHIR test fixtures: tokens, and a client whose every answer the independent peers check.

``fhir.get(path, token)`` returns the response after Medplum's validator (one Node process
per session), our required-binding check and fhirclient's parse have accepted its body
(each resource of a Bundle too).
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from tests.interop.peers import Medplum, fhirclient_errors, required_binding_errors


@pytest.fixture(scope="session")
def medplum():
    peer = Medplum()
    yield peer
    peer.close()


def check_fhir(medplum: Medplum, body: dict) -> None:
    resources = [body] + [e["resource"] for e in body.get("entry", [])]
    problems = {}
    for resource in resources:
        found = medplum.issues(resource) + required_binding_errors(resource)
        found += fhirclient_errors(resource)
        if found:
            problems[f"{resource['resourceType']}/{resource.get('id')}"] = found
    assert not problems, problems


@pytest.fixture
def app_for():
    def make(grant_type=Application.GRANT_AUTHORIZATION_CODE, name="app") -> Application:
        return Application.objects.create(
            name=name,
            client_type=Application.CLIENT_PUBLIC,
            authorization_grant_type=grant_type,
            redirect_uris="https://app.example/callback",
        )

    return make


@pytest.fixture
def token_for(app_for):
    """A bearer token for `user` (None: a system client) holding `scope`."""

    def make(user, scope: str) -> str:
        grant = (
            Application.GRANT_AUTHORIZATION_CODE
            if user is not None
            else Application.GRANT_CLIENT_CREDENTIALS
        )
        raw = secrets.token_urlsafe(30)
        AccessToken.objects.create(
            user=user,
            application=app_for(grant),
            token=raw,
            expires=timezone.now() + timedelta(hours=1),
            scope=scope,
        )
        return raw

    return make


class FhirClient:
    def __init__(self, client, medplum: Medplum):
        self.client, self.medplum = client, medplum

    def get(self, path: str, token: str | None = None, **headers):
        return self.send("get", path, token, **headers)

    def send(self, method: str, path: str, token: str | None = None, body=None, **headers):
        if token is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        if body is not None:
            headers.update(data=json.dumps(body), content_type="application/fhir+json")
        response = getattr(self.client, method)(path, **headers)
        if response["Content-Type"].startswith("application/fhir+json"):
            check_fhir(self.medplum, response.json())
        return response


@pytest.fixture
def fhir(client, medplum):
    return FhirClient(client, medplum)
