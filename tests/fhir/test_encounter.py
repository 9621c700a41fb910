"""Encounter: the visit of one exam, which the report, images and procedure point to."""

from datetime import datetime

import pytest
from django.utils import timezone

from nephro.exams.lifecycle import State
from nephro.exams.models import Order

pytestmark = pytest.mark.django_db


def test_the_report_images_and_procedure_point_to_the_visit(fhir, token_for, people, make_exam):
    exam = make_exam(State.FOLLOW_UP)
    token = token_for(people["radiologist"], "user/*.read")
    visit = fhir.get(f"/fhir/Encounter/{exam.pk}", token).json()
    assert visit["status"] == "finished" and visit["class"]["code"] == "AMB"
    assert visit["subject"]["reference"] == f"Patient/{exam.patient_id}"
    assert visit["basedOn"] == [{"reference": f"ServiceRequest/{exam.pk}"}]
    period = {k: datetime.fromisoformat(v) for k, v in visit["period"].items()}
    assert period == {"start": exam.arrived_at, "end": exam.completed_at}
    for path in (
        f"DiagnosticReport/{exam.report.pk}",
        f"ImagingStudy/{exam.pk}",
        f"Procedure/{exam.pk}",
    ):
        body = fhir.get(f"/fhir/{path}", token).json()
        assert body["encounter"] == {"reference": f"Encounter/{exam.pk}"}, path


@pytest.mark.parametrize(
    ("patient_class", "code", "display"),
    [
        ("outpatient", "AMB", "ambulatory"),
        ("inpatient", "IMP", "inpatient encounter"),
        ("emergency", "EMER", "emergency"),
    ],
)
def test_its_class_is_the_orders_patient_class(
    fhir, token_for, people, make_exam, patient_class, code, display
):
    exam = make_exam(State.ARRIVED)
    Order.objects.filter(pk=exam.order_id).update(patient_class=patient_class)
    token = token_for(people["nurse"], "user/Encounter.read")
    visit = fhir.get(f"/fhir/Encounter/{exam.pk}", token).json()
    assert visit["class"] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": code,
        "display": display,
    }


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (State.ORDERED, "planned"),
        (State.SCHEDULED, "planned"),
        (State.ARRIVED, "arrived"),
        (State.IN_PROGRESS, "in-progress"),
        (State.COMPLETED, "finished"),
        (State.CANCELLED, "cancelled"),
    ],
)
def test_its_status_follows_the_exam(fhir, token_for, people, make_exam, state, status):
    exam = make_exam(state)
    token = token_for(people["nurse"], "user/Encounter.read")
    visit = fhir.get(f"/fhir/Encounter/{exam.pk}", token).json()
    assert visit["status"] == status
    assert ("end" in visit.get("period", {})) == (status == "finished")
    found = fhir.get(f"/fhir/Encounter?patient={exam.patient_id}&status={status}", token).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [str(exam.pk)]


def test_it_is_searched_by_patient_and_date(fhir, token_for, people, make_exam):
    done, waiting = make_exam(State.COMPLETED), make_exam(State.ORDERED)
    token = token_for(None, "system/Encounter.read")
    today = timezone.localdate().isoformat()
    body = fhir.get(f"/fhir/Encounter?date={today}", token).json()
    assert [e["resource"]["id"] for e in body["entry"]] == [str(done.pk)]
    body = fhir.get(f"/fhir/Encounter?patient=Patient/{waiting.patient_id}", token).json()
    assert body["total"] == 1 and body["entry"][0]["resource"]["status"] == "planned"
    assert fhir.get("/fhir/Encounter?date=lt2000-01-01", token).json()["total"] == 0
    assert fhir.get("/fhir/Encounter?date=soon", token).status_code == 400


def test_a_patient_token_sees_only_their_own_visits(fhir, token_for, people, make_exam):
    own, other = make_exam(State.COMPLETED), make_exam(State.COMPLETED)
    assert own.patient.user == people["patient"]
    token = token_for(people["patient"], "patient/*.read")
    assert fhir.get(f"/fhir/Encounter/{own.pk}", token).status_code == 200
    assert fhir.get(f"/fhir/Encounter/{other.pk}", token).status_code == 404
    body = fhir.get("/fhir/Encounter", token).json()
    assert [e["resource"]["id"] for e in body["entry"]] == [str(own.pk)]


def test_the_capability_statement_lists_it(fhir):
    body = fhir.get("/fhir/metadata").json()
    encounter = next(r for r in body["rest"][0]["resource"] if r["type"] == "Encounter")
    assert {p["name"] for p in encounter["searchParam"]} >= {"patient", "date", "status"}
