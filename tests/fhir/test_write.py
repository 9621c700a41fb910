"""ServiceRequest create (conditional), update with If-Match, cancel; and bad input."""

import pytest

from nephro.exams.lifecycle import State
from nephro.exams.models import Exam, Order
from nephro.fhir.resources.common import CODES
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db
HOSPITAL = "https://ehr.hospital.example/orders"


def request_body(patient_id: int, number: str = "A-1", **overrides) -> dict:
    body = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": HOSPITAL, "value": number}],
        "status": "active",
        "intent": "order",
        "priority": "routine",
        "subject": {"reference": f"Patient/{patient_id}"},
        "bodySite": [{"coding": [{"system": f"{CODES}/side", "code": "left"}]}],
        "reasonCode": [{"coding": [{"system": f"{CODES}/indication", "code": "pre_removal"}]}],
        "note": [{"text": "Can the tube come out?"}],
        "requester": {"identifier": {"value": "D100"}},
    }
    return body | overrides


@pytest.fixture
def system_token(token_for):
    return token_for(None, "system/ServiceRequest.* system/Patient.read")


def test_a_create_places_the_order_and_a_repeat_creates_nothing(fhir, system_token, db):
    patient = make_patient()
    first = fhir.send("post", "/fhir/ServiceRequest", system_token, request_body(patient.pk))
    assert first.status_code == 201 and first["Location"].endswith(first.json()["id"])
    assert first.json()["identifier"][1] == {
        "system": HOSPITAL,
        "value": "A-1",
        "type": first.json()["identifier"][1]["type"],
    }
    again = fhir.send(
        "post",
        "/fhir/ServiceRequest",
        system_token,
        request_body(patient.pk),
        HTTP_IF_NONE_EXIST=f"identifier={HOSPITAL}|A-1",
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1 and Exam.objects.get().order.referrer.username == "ext-D100"


def test_both_kidneys_make_two_exams(fhir, system_token, db):
    sites = [{"coding": [{"system": f"{CODES}/side", "code": side}]} for side in ("left", "right")]
    body = request_body(make_patient().pk, bodySite=sites, priority="asap")
    assert fhir.send("post", "/fhir/ServiceRequest", system_token, body).status_code == 201
    assert Exam.objects.count() == 2 and Order.objects.get().urgency == "urgent"


def test_an_update_needs_the_current_version_and_revoked_cancels(fhir, system_token, db):
    patient = make_patient()
    created = fhir.send("post", "/fhir/ServiceRequest", system_token, request_body(patient.pk))
    url, version = f"/fhir/ServiceRequest/{created.json()['id']}", created["ETag"]
    changed = request_body(patient.pk, priority="urgent", note=[{"text": "Leaking now"}])
    assert fhir.send("put", url, system_token, changed).status_code == 428
    stale = fhir.send("put", url, system_token, changed, HTTP_IF_MATCH='W/"0000"')
    assert stale.status_code == 412
    done = fhir.send("put", url, system_token, changed, HTTP_IF_MATCH=version)
    assert done.status_code == 200 and done.json()["priority"] == "urgent"
    assert Order.objects.get().clinical_question == "Leaking now"
    revoked = request_body(patient.pk, status="revoked", note=[{"text": "Tube fell out"}])
    cancel = fhir.send("put", url, system_token, revoked, HTTP_IF_MATCH=done["ETag"])
    assert cancel.status_code == 200 and cancel.json()["status"] == "revoked"
    assert Exam.objects.get().state == State.CANCELLED


def test_an_order_placed_here_is_an_outpatients_and_an_update_keeps_the_class(
    fhir, system_token, db
):
    patient = make_patient()
    created = fhir.send("post", "/fhir/ServiceRequest", system_token, request_body(patient.pk))
    assert Order.objects.get().patient_class == "outpatient"
    # The ward told us over HL7 (PV1-2); a ServiceRequest update names no visit.
    Order.objects.update(patient_class="inpatient")
    url = f"/fhir/ServiceRequest/{created.json()['id']}"
    current = fhir.get(url, system_token)
    changed = request_body(patient.pk, priority="urgent")
    done = fhir.send("put", url, system_token, changed, HTTP_IF_MATCH=current["ETag"])
    assert done.status_code == 200
    assert Order.objects.get().patient_class == "inpatient"


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"subject": {"reference": "Group/1"}}, 400),
        ({"bodySite": [{"text": "kidney"}]}, 400),
        ({"reasonCode": [{"text": "because"}]}, 400),
        ({"note": []}, 400),
        ({"priority": "stat"}, 400),
        ({"identifier": []}, 400),
        ({"requester": None}, 400),
        ({"status": "not-a-status"}, 400),
        ({"subject": {"reference": "Patient/99999"}}, 404),
    ],
)
def test_bad_requests_get_an_operation_outcome_and_store_nothing(
    fhir, system_token, db, change, status
):
    body = {k: v for k, v in (request_body(make_patient().pk) | change).items() if v is not None}
    response = fhir.send("post", "/fhir/ServiceRequest", system_token, body)
    assert response.status_code == status, response.json()
    assert response.json()["resourceType"] == "OperationOutcome"
    assert Order.objects.count() == 0


def test_a_body_that_is_not_json_or_not_a_service_request_is_refused(fhir, system_token, client):
    response = client.post(
        "/fhir/ServiceRequest",
        "{",
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {system_token}",
    )
    assert response.status_code == 400
    assert (
        fhir.send(
            "post", "/fhir/ServiceRequest", system_token, {"resourceType": "Patient"}
        ).status_code
        == 400
    )
    assert (
        fhir.send("post", "/fhir/Patient", system_token, {"resourceType": "Patient"}).status_code
        == 405
    )


def test_readers_and_patients_may_not_order(fhir, token_for, people):
    body = request_body(make_patient().pk)
    for user, scope in (
        (people["tech"], "user/ServiceRequest.*"),
        (people["patient"], "patient/ServiceRequest.*"),
        (None, "system/ServiceRequest.read"),
    ):
        response = fhir.send("post", "/fhir/ServiceRequest", token_for(user, scope), body)
        assert response.status_code == 403
    assert Order.objects.count() == 0


def test_a_change_after_the_study_began_is_refused(fhir, token_for, people, make_exam):
    exam = make_exam(State.IN_PROGRESS)
    token = token_for(people["nurse"], "user/ServiceRequest.*")
    current = fhir.get(f"/fhir/ServiceRequest/{exam.pk}", token)
    body = request_body(exam.patient_id, priority="urgent")
    answer = fhir.send(
        "put", f"/fhir/ServiceRequest/{exam.pk}", token, body, HTTP_IF_MATCH=current["ETag"]
    )
    assert answer.status_code == 422 and "begun" in answer.json()["issue"][0]["diagnostics"]
