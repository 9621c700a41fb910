"""SMART on FHIR: the role x scope table, patient isolation, and the two OAuth flows."""

import base64
import hashlib
import json
import secrets
import time
from urllib.parse import parse_qs, urlparse

import pytest
from jwcrypto import jwk, jwt
from oauth2_provider.models import Application

from nephro.accounts.roles import Role
from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.fhir.models import ClientKey

pytestmark = pytest.mark.django_db

ROLE_USER = {
    Role.REFERRER: "referrer",
    Role.NURSE: "nurse",
    Role.TECHNOLOGIST: "tech",
    Role.RADIOLOGIST: "radiologist",
    Role.PATIENT: "patient",
    Role.ADMIN: "admin",
    "system": None,
}
USERS = {Role.REFERRER, Role.NURSE, Role.TECHNOLOGIST, Role.RADIOLOGIST}
# scope -> the holders that may read a DiagnosticReport with it (paula's, alice's patient).
EXPECTED_REPORT_READ = {
    "patient/*.read": {Role.PATIENT},
    "patient/DiagnosticReport.read": {Role.PATIENT},
    "patient/Observation.read": set(),
    "user/*.read": USERS,
    "user/DiagnosticReport.rs": USERS,
    "user/ServiceRequest.read": set(),
    "system/*.read": {"system"},
    "system/DiagnosticReport.*": {"system"},
    "launch/patient openid": set(),
}


@pytest.fixture
def reported(make_exam):
    return make_exam(State.FOLLOW_UP)  # paula's own exam, referred by alice


def test_it_applies_the_role_x_scope_table(fhir, token_for, people, reported):
    url = f"/fhir/DiagnosticReport/{reported.report.pk}"
    for scope, allowed in EXPECTED_REPORT_READ.items():
        for role, key in ROLE_USER.items():
            user = people[key] if key else None
            status = fhir.get(url, token_for(user, scope)).status_code
            expected = 200 if role in allowed else 403
            assert status == expected, f"{role} with {scope!r}: {status}"
    assert AuditEvent.objects.filter(action="fhir.denied", outcome="denied").exists()


def test_it_lets_only_order_writers_hold_write_scopes(token_for, people):
    from nephro.fhir import smart

    writers = {r for r in ROLE_USER if smart.role_allows(str(r), smart.parse(_write(r)))}
    assert writers == {Role.REFERRER, Role.NURSE, Role.RADIOLOGIST, "system"}


def _write(role) -> str:
    context = {"system": "system", Role.PATIENT: "patient"}.get(role, "user")
    return f"{context}/ServiceRequest.write"


def test_a_patient_token_reads_only_that_patients_reports(fhir, token_for, people, make_exam):
    own = make_exam(State.FOLLOW_UP)
    other = make_exam(State.FOLLOW_UP)  # another patient, same referrer
    token = token_for(people["patient"], "patient/*.read")
    assert fhir.get(f"/fhir/DiagnosticReport/{own.report.pk}", token).status_code == 200
    assert fhir.get(f"/fhir/DiagnosticReport/{other.report.pk}", token).status_code == 404
    assert fhir.get(f"/fhir/Patient/{other.patient_id}", token).status_code == 404
    found = fhir.get("/fhir/DiagnosticReport", token).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [str(own.report.pk)]
    asked = fhir.get(f"/fhir/DiagnosticReport?patient={other.patient_id}", token).json()
    assert asked["total"] == 0
    observations = fhir.get("/fhir/Observation", token).json()["entry"]
    assert {e["resource"]["subject"]["reference"] for e in observations} == {
        f"Patient/{own.patient_id}"
    }


def test_a_referrer_token_reaches_only_their_patients(fhir, token_for, people, reported):
    bob = token_for(people["other_referrer"], "user/*.read")
    assert fhir.get(f"/fhir/Patient/{reported.patient_id}", bob).status_code == 404


def test_an_expired_or_unknown_token_is_refused(fhir, reported):
    assert fhir.get(f"/fhir/Patient/{reported.patient_id}", "not-a-token").status_code == 401


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_a_smart_app_gets_a_patient_token_by_code_with_pkce(client, fhir, people, reported):
    app = Application.objects.create(
        name="Patient app",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://app.example/callback",
    )
    verifier, challenge = _pkce()
    client.force_login(people["patient"])
    ask = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": "https://app.example/callback",
        "scope": "launch/patient patient/*.read user/*.read",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    assert client.get("/o/authorize/", ask).status_code == 200  # the consent page
    answer = client.post("/o/authorize/", {**ask, "allow": "Authorize"})
    code = parse_qs(urlparse(answer["Location"]).query)["code"][0]
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "https://app.example/callback",
        "client_id": app.client_id,
    }
    assert client.post("/o/token/", exchange).status_code == 400  # no code_verifier
    code = parse_qs(
        urlparse(client.post("/o/authorize/", {**ask, "allow": "Authorize"})["Location"]).query
    )["code"][0]
    token = client.post("/o/token/", {**exchange, "code": code, "code_verifier": verifier}).json()
    # The patient context comes with the token; the user scope was not the patient's to get.
    assert token["patient"] == str(reported.patient_id)
    assert token["scope"] == "launch/patient patient/*.read"
    client.logout()
    report = fhir.get(f"/fhir/DiagnosticReport/{reported.report.pk}", token["access_token"])
    assert report.status_code == 200
    assert AuditEvent.objects.filter(action="smart.token", username="paula").exists()


@pytest.fixture
def backend_service():
    key = jwk.JWK.generate(kty="RSA", size=2048, kid="k1")
    app = Application.objects.create(
        name="Hospital EHR",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    ClientKey.objects.create(application=app, jwks={"keys": [json.loads(key.export_public())]})
    return app, key


def _assertion(app, key, **overrides) -> str:
    claims = {
        "iss": app.client_id,
        "sub": app.client_id,
        "aud": "http://127.0.0.1:8000/o/token/",
        "exp": int(time.time()) + 120,
        "jti": secrets.token_hex(8),
        **overrides,
    }
    token = jwt.JWT(header={"alg": "RS384", "kid": "k1"}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def _token_request(client, assertion: str):
    return client.post(
        "/o/token/",
        {
            "grant_type": "client_credentials",
            "scope": "system/*.read",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )


def test_a_backend_service_gets_a_token_with_private_key_jwt(
    client, fhir, backend_service, reported
):
    app, key = backend_service
    answer = _token_request(client, _assertion(app, key))
    assert answer.status_code == 200, answer.content
    token = answer.json()["access_token"]
    assert fhir.get(f"/fhir/DiagnosticReport/{reported.report.pk}", token).status_code == 200
    assert AuditEvent.objects.filter(action="smart.token", username="smart:Hospital EHR").exists()


def test_a_backend_service_assertion_is_refused_when_wrong(client, backend_service):
    app, key = backend_service
    stranger = jwk.JWK.generate(kty="RSA", size=2048, kid="k1")
    replayed = _assertion(app, key)
    assert _token_request(client, replayed).status_code == 200
    bad = [
        _assertion(app, stranger),  # not the registered key
        _assertion(app, key, aud="https://elsewhere.example/token"),
        _assertion(app, key, exp=int(time.time()) + 3600),  # lives too long
        replayed,  # used once already
        "not.a.jwt",
    ]
    for assertion in bad:
        assert _token_request(client, assertion).status_code in (400, 401), assertion
    assert AuditEvent.objects.filter(action="smart.client_auth", outcome="failed").count() == 5
