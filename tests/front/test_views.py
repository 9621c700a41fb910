"""Pages: bad input, misuse, scoping, and an audit event for every page with patient data."""

import pytest
from django.urls import reverse

from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.exams.models import Order
from nephro.reports.models import Report
from tests.conftest import make_patient, order_form

pytestmark = pytest.mark.django_db


def test_it_shows_a_clear_error_for_an_invalid_order_form(people, login):
    patient = make_patient()
    client = login(people["nurse"])
    response = client.post(
        reverse("exams:order", args=[patient.pk]),
        {
            "side": "middle",
            "indication": "routine",
            "clinical_question": "",
            "urgency": "routine",
            "submission": "not-a-uuid",
        },
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Order.objects.exists()


def test_it_creates_one_order_when_the_form_is_submitted_twice(people, login):
    patient = make_patient(registered_by=people["referrer"])
    client = login(people["referrer"])
    data = order_form()
    first = client.post(reverse("exams:order", args=[patient.pk]), data)
    second = client.post(reverse("exams:order", args=[patient.pk]), data, follow=True)
    assert first.status_code == 302
    assert "already submitted" in second.content.decode()
    assert Order.objects.count() == 1 and patient.exams.count() == 1


def test_it_refuses_an_illegal_transition_from_the_page_and_changes_nothing(
    people, make_exam, login
):
    exam = make_exam(State.SCHEDULED)
    client = login(people["tech"])
    response = client.post(reverse("exams:complete", args=[exam.pk]), follow=True)
    assert "Not done:" in response.content.decode()
    exam.refresh_from_db()
    assert exam.state == State.SCHEDULED


def test_it_refuses_a_second_check_in_submit_cleanly(people, make_exam, login):
    exam = make_exam(State.SCHEDULED)
    client = login(people["tech"])
    data = {"mrn": exam.patient.mrn, "birth_date": exam.patient.birth_date.isoformat()}
    client.post(reverse("exams:check-in", args=[exam.pk]), data)
    exam.refresh_from_db()
    arrived = exam.arrived_at
    response = client.post(reverse("exams:check-in", args=[exam.pk]), data)
    assert response.status_code == 400
    assert "only a scheduled exam can be checked in" in response.content.decode()
    exam.refresh_from_db()
    assert exam.arrived_at == arrived


def test_it_refuses_editing_a_signed_report(people, make_exam, login):
    exam = make_exam(State.REPORTED)
    report = Report.objects.get(exam=exam)
    client = login(people["radiologist"])
    response = client.post(
        reverse("reports:edit", args=[exam.pk]),
        {"technique": "x", "findings_text": "y", "impression": "rewritten"},
        follow=True,
    )
    assert "changes are added as addenda" in response.content.decode()
    report.refresh_from_db()
    assert report.impression != "rewritten"
    response = client.post(
        reverse("reports:findings", args=[exam.pk]),
        {
            "tube_position": "out",
            "tube_patency": "blocked",
            "hydronephrosis": "4",
            "upj_passage": "none",
            "ureter_passage": "none",
            "bladder": "none",
        },
    )
    assert response.status_code == 400 and "add an addendum" in response.content.decode()
    assert exam.findings.tube_position == "pelvis"


def test_it_hides_one_patients_exam_from_another_patient_and_an_unrelated_referrer(
    people, make_exam, login
):
    exam = make_exam(State.REPORTED)
    for key in ("other_referrer",):
        client = login(people[key])
        for name in ("exams:detail", "reports:view", "reports:pdf"):
            response = client.get(reverse(name, args=[exam.pk]))
            assert response.status_code == 404, (key, name)
            assert exam.patient.mrn.encode() not in response.content
        assert client.get(reverse("patients:detail", args=[exam.patient_id])).status_code == 404
    client = login(people["other_patient"])
    for name in ("exams:detail", "reports:view", "reports:pdf"):
        assert client.get(reverse(name, args=[exam.pk])).status_code in (403, 404)


def test_it_lets_the_ordering_referrer_read_the_report(people, make_exam, login):
    exam = make_exam(State.REPORTED)
    client = login(people["referrer"])
    response = client.get(reverse("reports:view", args=[exam.pk]))
    assert response.status_code == 200
    assert exam.report.impression in response.content.decode()


def test_it_serves_the_report_as_a_real_pdf(people, make_exam, login):
    import io

    from pypdf import PdfReader

    exam = make_exam(State.REPORTED)
    response = login(people["referrer"]).get(reverse("reports:pdf", args=[exam.pk]))
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert exam.accession_number in text and exam.patient.mrn in text
    assert "Impression" in text and "Final" in text


PAGES_WITH_PATIENT_DATA = [
    ("exams:detail", "radiologist"),
    ("reports:view", "referrer"),
    ("reports:pdf", "referrer"),
    ("reports:findings", "radiologist"),
    ("reports:edit", "radiologist"),
    ("exams:procedure", "tech"),
    ("screening:edit", "nurse"),
    ("exams:schedule", "nurse"),
    ("exams:check-in", "tech"),
    ("exams:hold", "nurse"),
    ("exams:cancel", "nurse"),
    ("exams:resume", "radiologist"),
    ("reports:disposition", "radiologist"),
]


@pytest.mark.parametrize("name,who", PAGES_WITH_PATIENT_DATA)
def test_it_audits_every_page_that_shows_patient_data(people, make_exam, login, name, who):
    exam = make_exam(State.REPORTED)
    client = login(people[who])
    before = AuditEvent.objects.count()
    response = client.get(reverse(name, args=[exam.pk]))
    assert response.status_code in (200, 302)
    event = AuditEvent.objects.filter(seq__gt=before, patient_ref=exam.patient_id).first()
    assert event is not None, name
    assert event.username == people[who].username and event.role == people[who].role
    assert event.source_address == "127.0.0.1"


@pytest.mark.parametrize(
    "name,who",
    [("patients:detail", "nurse"), ("exams:order", "referrer"), ("tubes:create", "nurse")],
)
def test_it_audits_patient_pages(people, make_exam, login, name, who):
    exam = make_exam(State.SCREENED)
    before = AuditEvent.objects.count()
    login(people[who]).get(reverse(name, args=[exam.patient_id]))
    assert AuditEvent.objects.filter(seq__gt=before, patient_ref=exam.patient_id).exists()


def test_it_audits_list_pages(people, make_exam, login):
    make_exam(State.SCHEDULED)
    client = login(people["nurse"])
    for name, action in [
        ("exams:worklist", "worklist.read"),
        ("patients:list", "patient.search"),
        ("tubes:registry", "tube.registry.read"),
        ("home", "dashboard.read"),
    ]:
        before = AuditEvent.objects.count()
        assert client.get(reverse(name)).status_code == 200
        assert AuditEvent.objects.filter(seq__gt=before, action=action).exists(), name


def test_it_shows_role_worklists(people, make_exam, login):
    held = make_exam(State.ON_HOLD)
    ordered = make_exam(State.ORDERED)
    page = login(people["radiologist"]).get(reverse("home")).content.decode()
    assert "Holds needing a decision" in page and held.accession_number in page
    page = login(people["nurse"]).get(reverse("home")).content.decode()
    assert "To screen" in page and ordered.accession_number in page
    assert "Tubes due or overdue" in page


def test_it_rejects_an_impossible_screening_value(people, make_exam, login):
    exam = make_exam(State.ORDERED)
    response = login(people["nurse"]).post(
        reverse("screening:edit", args=[exam.pk]),
        {"pregnancy": "not_applicable", "inr": "45", "prior_contrast_reaction": "on"},
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "INR must be between" in body and "Record the agent" in body
    exam.refresh_from_db()
    assert exam.state == State.ORDERED and not hasattr(exam, "screening")


def test_it_rejects_a_bad_procedure_value(people, make_exam, login):
    exam = make_exam(State.IN_PROGRESS)
    response = login(people["tech"]).post(
        reverse("exams:procedure", args=[exam.pk]),
        {
            "contrast_agent": "Iopamidol",
            "contrast_volume_ml": "-5",
            "kap_unit": "furlongs",
            "ka_r_unit": "mGy",
        },
    )
    assert response.status_code == 400
    exam.procedure.refresh_from_db()
    assert exam.procedure.contrast_agent == ""


def test_it_answers_an_unknown_checklist_step_with_400_and_a_message(people, make_exam, login):
    exam = make_exam(State.ARRIVED)
    client = login(people["tech"])
    response = client.post(reverse("exams:checklist", args=[exam.pk]), {"item": "juggling"})
    assert response.status_code == 400
    assert "Not done: choose a step of the checklist." in response.content.decode()
    assert not exam.checklist.exists()
