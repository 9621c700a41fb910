"""The patient side in headless Chromium: invitation, information, questionnaire,
an emergency check-in, and the nurse who sees and acknowledges the alert."""

import re
from datetime import date, datetime, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from nephro.audit.actor import Actor
from nephro.exams import services as exams
from nephro.exams.forms import ProcedureForm
from nephro.exams.models import ChecklistItem
from nephro.followup.models import Alert
from nephro.portal import services as portal
from tests.browser.conftest import shot, sign_in, sign_out
from tests.conftest import make_patient

pytestmark = pytest.mark.browser
PATIENT_PASSWORD = "my-kidney-tube-2024"


def _finish_study(people, exam):
    """The study itself happens in the department (see test_exam_workflow)."""
    nurse, tech, rad = (Actor(user=people[k]) for k in ("nurse", "tech", "radiologist"))
    when = timezone.make_aware(datetime.combine(timezone.localdate(), time(9, 0)))
    exams.schedule(nurse, exam.pk, when=when, room="Fluoro 1", ae_title="FLUORO1")
    exams.check_in(tech, exam.pk, mrn=exam.patient.mrn, birth_date=exam.patient.birth_date)
    for item in ChecklistItem.values:
        exams.tick_checklist(tech, exam.pk, item)
    exams.start(rad, exam.pk)
    exam.refresh_from_db()
    form = ProcedureForm(
        {
            "contrast_agent": "Iopamidol 300",
            "views": ["scout", "ap"],
            "tolerance": "mild",
            "kap_unit": "Gy.cm2",
            "ka_r_unit": "mGy",
        },
        instance=exam.procedure,
    )
    assert form.is_valid(), form.errors
    exams.save_procedure(rad, exam.pk, form.values())
    exams.complete(rad, exam.pk)


def test_a_patient_from_invitation_to_emergency_check_in(page, people, make_exam):
    patient = make_patient(sex="F", born=date.today() - timedelta(days=40 * 365))
    patient.email, patient.given_name = "pia@example.org", "Pia"
    patient.save()
    exam = make_exam("ordered", patient=patient)
    portal.invite_patient(
        Actor(user=people["nurse"]), patient.pk, email=patient.email, language="en"
    )
    token = re.search(r"/invite/([\w-]+)/", mail.outbox[-1].body).group(1)

    # She accepts the invitation and sets a password.
    page.goto(f"/invite/{token}/")
    expect(page.get_by_role("heading", name="Welcome, Pia")).to_be_visible()
    page.get_by_label("Your date of birth").fill(patient.birth_date.isoformat())
    page.get_by_label("Choose a user name").fill("pia")
    page.get_by_label("Choose a password").fill(PATIENT_PASSWORD)
    page.get_by_label("Type the password again").fill(PATIENT_PASSWORD)
    shot(page, "patient-01-accept-invitation")
    page.get_by_role("button", name="Make my account").click()
    expect(page.get_by_text("Your account is ready")).to_be_visible()
    expect(page.get_by_role("heading", name="Hello Pia")).to_be_visible()

    # She reads the information, in Spanish and back in English.
    page.get_by_role("link", name=re.compile("Read what will happen")).click()
    expect(page.get_by_role("heading", name="What is a nephrostogram?")).to_be_visible()
    expect(page.get_by_text("You can eat and drink as usual")).to_be_visible()
    page.get_by_role("button", name="Español").click()
    expect(page.get_by_role("heading", name="¿Qué es un nefrostograma?")).to_be_visible()
    shot(page, "patient-02-information-es")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Getting ready")).to_be_visible()

    # She answers the questions before the test.
    page.get_by_role("link", name="Back to my page").click()
    page.get_by_role("link", name="Answer the questions before your test").click()
    page.get_by_label("No, I am sure I am not pregnant").check()
    page.get_by_label("Coumadin (warfarin)").check()
    shot(page, "patient-03-questionnaire")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_text("A nurse will go over your answers").first).to_be_visible()
    sign_out(page)

    # The nurse reviews the answers; only then do they count.
    sign_in(page, "nina")
    page.goto("/followup/")
    page.get_by_role("link", name="Review").click()
    page.get_by_role("button", name="Confirm review").click()
    expect(page.locator(".badge.state-screened")).to_be_visible()
    assert "blood thinners" in page.locator(".flags").inner_text().lower()
    sign_out(page)

    _finish_study(people, exam)

    # After the study she reports difficulty breathing and is told to call now.
    sign_in(page, "pia", PATIENT_PASSWORD)
    page.get_by_role("link", name="Tell us how you are").click()
    page.get_by_label("Trouble breathing or swallowing").check()
    page.get_by_label("A mild ache or pressure near the kidney").check()
    page.get_by_role("button", name="Send", exact=True).click()
    emergency = page.locator(".urgency-emergency")
    expect(emergency).to_be_visible()
    assert "Call emergency services now: dial 911." in emergency.inner_text()
    expect(page.get_by_role("link", name="Call 911")).to_be_visible()
    shot(page, "patient-04-emergency-instruction")
    sign_out(page)

    # The nurse sees the emergency at the top of the triage list and acknowledges it.
    sign_in(page, "nina")
    expect(page.get_by_role("heading", name=re.compile("Triage: open alerts"))).to_be_visible()
    page.goto("/followup/")
    first_row = page.locator("table.list tbody tr").first
    assert "emergency" in first_row.inner_text().lower()
    assert "Trouble breathing" in first_row.inner_text()
    shot(page, "patient-05-triage-list")
    first_row.get_by_role("link", name="Acknowledge").click()
    page.get_by_label("Action taken").select_option("emergency")
    page.get_by_label("Note").fill("Called her back: ambulance on the way; ED told.")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Alert acknowledged.")).to_be_visible()
    expect(page.get_by_text("No open alerts.")).to_be_visible()
    alert = Alert.objects.get(exam=exam)
    assert alert.acknowledged_by == people["nurse"] and alert.action == "emergency"
