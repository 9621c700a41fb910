"""Reads and searches of the FHIR API, each answer checked by the independent peers."""

import pytest

from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State

pytestmark = pytest.mark.django_db


@pytest.fixture
def reported(make_exam):
    return make_exam(State.FOLLOW_UP)


def test_it_serves_the_capability_statement_without_a_token(fhir):
    response = fhir.get("/fhir/metadata")
    assert response.status_code == 200
    body = response.json()
    assert body["fhirVersion"] == "4.0.1"
    types = {r["type"] for r in body["rest"][0]["resource"]}
    assert {"Patient", "ServiceRequest", "DiagnosticReport", "Observation"} <= types


def test_it_serves_the_smart_configuration(client):
    body = client.get("/fhir/.well-known/smart-configuration").json()
    assert "private_key_jwt" in body["token_endpoint_auth_methods_supported"]
    assert body["code_challenge_methods_supported"] == ["S256"]


def test_it_refuses_a_read_without_a_token_with_an_operation_outcome(fhir, reported):
    response = fhir.get(f"/fhir/Patient/{reported.patient_id}")
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_it_reads_a_patient_with_an_etag(fhir, token_for, people, reported):
    token = token_for(people["radiologist"], "user/*.read")
    response = fhir.get(f"/fhir/Patient/{reported.patient_id}", token)
    assert response.status_code == 200
    body = response.json()
    assert body["identifier"][0]["value"] == reported.patient.mrn
    assert response["ETag"] == f'W/"{body["meta"]["versionId"]}"'
    assert AuditEvent.objects.filter(action="fhir.read", username="rita").exists()


def test_it_reads_the_report_with_its_observations_and_pdf(fhir, token_for, people, reported):
    token = token_for(people["radiologist"], "user/*.read")
    report = fhir.get(f"/fhir/DiagnosticReport/{reported.report.pk}", token).json()
    assert report["status"] == "final"
    assert {f["contentType"] for f in report["presentedForm"]} == {"text/plain", "application/pdf"}
    codes = set()
    for result in report["result"]:
        observation = fhir.get(f"/fhir/{result['reference']}", token).json()
        codes.add(observation["code"]["coding"][0]["code"])
    assert {"hydronephrosis", "113722", "113725", "113730", "tube-decision"} <= codes


def test_it_searches_reports_with_included_results_and_patient(fhir, token_for, people, reported):
    token = token_for(people["radiologist"], "user/*.read")
    url = (
        f"/fhir/DiagnosticReport?patient=Patient/{reported.patient_id}"
        "&_include=DiagnosticReport:result&_include=DiagnosticReport:patient"
    )
    body = fhir.get(url, token).json()
    modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in body["entry"]]
    assert ("DiagnosticReport", "match") in modes
    assert ("Observation", "include") in modes
    assert ("Patient", "include") in modes


def test_it_pages_with_next_links(fhir, token_for, people, make_exam):
    for _ in range(3):
        make_exam(State.ORDERED)
    token = token_for(people["nurse"], "user/ServiceRequest.read")
    body = fhir.get("/fhir/ServiceRequest?_count=2", token).json()
    assert body["total"] == 3 and len(body["entry"]) == 2
    next_url = next(link["url"] for link in body["link"] if link["relation"] == "next")
    rest = fhir.get(next_url.split("127.0.0.1:8000")[1], token).json()
    assert len(rest["entry"]) == 1
    assert not [link for link in rest["link"] if link["relation"] == "next"]


def test_it_filters_by_status_and_date(fhir, token_for, people, make_exam):
    cancelled = make_exam(State.CANCELLED)
    make_exam(State.ORDERED)
    token = token_for(people["nurse"], "user/ServiceRequest.read")
    body = fhir.get("/fhir/ServiceRequest?status=revoked&authored=ge2000-01-01", token).json()
    assert [e["resource"]["id"] for e in body["entry"]] == [str(cancelled.pk)]
    body = fhir.get("/fhir/ServiceRequest?_lastUpdated=lt2000-01-01", token).json()
    assert body["total"] == 0


def test_it_reads_imaging_study_procedure_and_device(fhir, token_for, people, reported):
    token = token_for(people["radiologist"], "user/*.read")
    study = fhir.get(f"/fhir/ImagingStudy/{reported.pk}", token).json()
    assert study["identifier"][0]["value"] == f"urn:oid:{reported.study_instance_uid}"
    procedure = fhir.get(f"/fhir/Procedure/{reported.pk}", token).json()
    assert procedure["status"] == "completed"
    tube = fhir.get(f"/fhir/Device/{reported.tube_id}", token).json()
    assert tube["patient"]["reference"] == f"Patient/{reported.patient_id}"


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/fhir/Patient?unknown=1", 400),
        ("/fhir/Patient?_count=many", 400),
        ("/fhir/Patient?birthdate=yesterday", 400),
        ("/fhir/ServiceRequest?patient=Patient/abc", 400),
        ("/fhir/Patient/99999", 404),
        ("/fhir/Medication/1", 404),
        ("/fhir/Patient?_include=Patient:link", 400),
    ],
)
def test_it_answers_bad_requests_with_an_operation_outcome(fhir, token_for, people, url, status):
    response = fhir.get(url, token_for(people["radiologist"], "user/*.read"))
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"


def test_it_serves_screening_answers_and_check_ins_as_questionnaire_responses(
    fhir, token_for, people, reported
):
    from django.utils import timezone

    from nephro.followup.models import CheckIn

    CheckIn.objects.create(
        exam=reported, answered_at=timezone.now(), symptoms=["fever"], urgency="urgent"
    )
    token = token_for(people["nurse"], "user/QuestionnaireResponse.read")
    body = fhir.get(f"/fhir/QuestionnaireResponse?patient={reported.patient_id}", token).json()
    ids = sorted(e["resource"]["id"] for e in body["entry"])
    assert ids == [f"{reported.pk}-checkin-1", f"{reported.pk}-screening"]
    checkin = fhir.get(f"/fhir/QuestionnaireResponse/{reported.pk}-checkin-1", token).json()
    symptoms = next(i for i in checkin["item"] if i["linkId"] == "symptoms")
    assert symptoms["answer"][0]["valueCoding"]["code"] == "fever"


def test_it_serves_the_audit_trail_to_radiologists_and_systems_only(
    fhir, token_for, people, reported
):
    rita = token_for(people["radiologist"], "user/*.read")
    fhir.get(f"/fhir/Patient/{reported.patient_id}", rita)
    url = f"/fhir/AuditEvent?patient={reported.patient_id}&subtype=fhir.read"
    body = fhir.get(url, rita).json()
    assert body["total"] >= 1 and body["entry"][0]["resource"]["action"] == "R"
    assert fhir.get(url, token_for(None, "system/AuditEvent.read")).status_code == 200
    for key in ("nurse", "patient"):
        scope = "patient/*.read" if key == "patient" else "user/*.read"
        assert fhir.get(url, token_for(people[key], scope)).status_code == 403
