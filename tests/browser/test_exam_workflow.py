"""The whole exam, page by page, in headless Chromium: the happy path and the hold path."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from nephro.exams.models import Exam
from nephro.tubes.models import Tube
from tests.browser.conftest import shot, sign_in, sign_out
from tests.conftest import make_patient

pytestmark = pytest.mark.browser


def test_the_happy_path_from_order_to_tube_removal(page, people):
    # Referrer registers the patient and orders the study.
    sign_in(page, "alice")
    page.goto("/patients/new/")
    page.get_by_label("MRN").fill("HP-001")
    page.get_by_label("Family name").fill("Walker")
    page.get_by_label("Given name").fill("Sam")
    page.get_by_label("Birth date").fill("1961-03-14")
    page.get_by_label("Sex").select_option("M")
    page.get_by_role("button", name="Register").click()
    patient = people["referrer"].registered_patients.get(mrn="HP-001")
    # The row exists once the POST is handled, but the browser may still be following
    # the redirect; reloading mid-navigation detaches the page (a flake seen in CI).
    page.wait_for_url(f"**/patients/{patient.pk}/")
    Tube.objects.create(
        patient=patient,
        side="right",
        size_fr=10,
        placed_on=timezone.localdate() - timedelta(days=40),
        exchange_due_on=timezone.localdate() + timedelta(days=50),
    )
    page.reload()
    page.get_by_role("link", name="Order nephrostogram").click()
    page.get_by_label("Side").select_option("right")
    page.get_by_label("Indication").select_option("pre_removal")
    page.get_by_label("Clinical question").fill("Stone cleared? Can the tube come out?")
    page.get_by_label("Patient type").select_option("inpatient")
    shot(page, "happy-01-order-form")
    page.get_by_role("button", name="Place order").click()
    assert page.locator(".badge.state-ordered").is_visible()
    assert "Inpatient (on a ward)" in page.locator("p.sub").inner_text()
    exam = Exam.objects.get(patient=patient)
    sign_out(page)

    # Nurse screens and schedules.
    sign_in(page, "nina")
    assert page.get_by_role("heading", name="To screen").is_visible()
    page.get_by_role("link", name=str(patient)).first.click()
    page.get_by_role("link", name="Screen").click()
    page.get_by_label("Aspirin").check()
    page.get_by_role("button", name="Save screening").click()
    assert page.locator(".badge.state-screened").is_visible()
    assert "blood thinners" in page.locator(".flags").inner_text().lower()
    page.get_by_role("link", name="Schedule", exact=True).click()
    tomorrow = timezone.localdate() + timedelta(days=1)
    page.get_by_label("Date and time").fill(f"{tomorrow.isoformat()}T10:30")
    page.get_by_role("button", name="Confirm").click()
    assert page.locator(".badge.state-scheduled").is_visible()
    sign_out(page)

    # Technologist checks in with two identifiers and does the checklist.
    sign_in(page, "tom")
    page.goto(f"/exams/{exam.pk}/")
    page.get_by_role("link", name="Check in").click()
    page.get_by_label("MRN (from the wristband)").fill("HP-001")
    page.get_by_label("Date of birth (as the patient says it)").fill("1961-03-14")
    page.get_by_role("button", name="Confirm").click()
    assert page.locator(".badge.state-arrived").is_visible()
    # Each tick swaps only the checklist in place (htmx); the last one reloads the page.
    for done in range(1, 6):
        page.get_by_role("button", name="Mark done").first.click()
        if done < 5:
            expect(page.locator(".checklist .tick")).to_have_count(done)
    expect(page.locator(".badge.state-prepared")).to_be_visible()
    assert page.get_by_text("Checklist complete").is_visible()
    assert page.locator(".checklist .tick").count() == 5
    shot(page, "happy-02-checklist-done")
    sign_out(page)

    # Radiologist performs, reports, signs and removes the tube.
    sign_in(page, "rita")
    page.goto(f"/exams/{exam.pk}/")
    page.get_by_role("button", name="Start study").click()
    page.get_by_role("link", name="Procedure and dose").click()
    page.get_by_label("Contrast agent").fill("Iopamidol 300")
    page.get_by_label("Concentration (mgI/mL)").fill("300")
    page.get_by_label("Volume (mL)").fill("10")
    for view in ("Scout (control)", "AP supine", "Delayed film (about 20 min)"):
        page.get_by_label(view).check()
    page.get_by_label("Fluoroscopy time (s)").fill("48")
    page.get_by_label("Air kerma-area product").fill("12")
    page.get_by_label("KAP unit").select_option("dGy.cm2")
    page.get_by_label("Reference air kerma (Ka,r)").fill("9")
    page.get_by_label("Tolerance").select_option("mild")
    page.get_by_role("button", name="Save procedure").click()
    assert "1.2" in page.locator("dl.facts").nth(1).inner_text()
    page.get_by_role("button", name="Complete study").click()
    assert page.locator(".badge.state-completed").is_visible()
    page.get_by_role("link", name="Findings").click()
    page.get_by_label("Tube position").select_option("pelvis")
    page.get_by_label("Tube patency").select_option("patent")
    page.get_by_label("Hydronephrosis (SFU grade)").select_option("0")
    page.get_by_label("Passage at the UPJ").select_option("free")
    page.get_by_label("Passage through the ureter").select_option("free")
    page.get_by_label("Contrast into the bladder").select_option("immediate")
    page.get_by_label("Time to bladder (min)").fill("3")
    shot(page, "happy-03-findings")
    page.get_by_role("button", name="Save findings and draft the report").click()
    impression = page.get_by_label("Impression")
    assert "drains promptly" in impression.input_value()
    page.get_by_role("button", name="Sign final").click()
    page.get_by_role("button", name="Confirm: sign final").click()  # final asks first
    assert page.locator(".badge.report-final").first.is_visible()
    shot(page, "happy-04-signed-report")
    page.get_by_role("link", name="Back to exam").click()
    page.get_by_role("link", name="Tube decision").click()
    page.get_by_label("Remove the tube").check()
    page.get_by_label("Reason").fill("Free drainage to the bladder; stone cleared")
    page.get_by_role("button", name="Record decision").click()
    assert page.locator(".badge.state-follow_up").is_visible()
    shot(page, "happy-05-follow-up")

    exam.refresh_from_db()
    assert exam.state == "follow_up" and exam.report.status == "final"
    assert exam.tube.status == "removed"
    assert exam.procedure.kap_gy_cm2 == Decimal("1.2")


def test_the_hold_path_possibly_pregnant_then_radiologist_decides(page, people, make_exam):
    patient = make_patient(sex="F", born=date.today() - timedelta(days=29 * 365))
    exam = make_exam("ordered", patient=patient)

    sign_in(page, "nina")
    page.goto(f"/exams/{exam.pk}/screening/")
    assert page.get_by_text("This patient is of child-bearing age").is_visible()
    page.get_by_label("Pregnancy", exact=True).select_option("possible")
    page.get_by_label("How pregnancy status was established").fill("Period late; unsure")
    page.get_by_role("button", name="Save screening").click()
    assert page.locator(".badge.state-on_hold").is_visible()
    assert page.get_by_text("awaiting radiologist").is_visible()
    shot(page, "hold-01-on-hold")
    # The hold blocks scheduling: the nurse is offered no Schedule step.
    assert page.get_by_role("link", name="Schedule", exact=True).count() == 0
    sign_out(page)

    sign_in(page, "rita")
    assert page.get_by_role("heading", name="Holds needing a decision").is_visible()
    page.get_by_role("link", name=str(patient)).first.click()
    page.get_by_role("link", name="Decide").click()
    page.get_by_label("Decision", exact=True).select_option("proceed")
    page.get_by_label("Reason").fill("Urine pregnancy test negative today")
    shot(page, "hold-02-decision")
    page.get_by_role("button", name="Record decision").click()
    assert page.locator(".badge.state-screened").is_visible()
    assert "Urine pregnancy test negative" in page.locator(".flags").inner_text()
    shot(page, "hold-03-released")
    exam.refresh_from_db()
    assert exam.state == "screened"
    assert exam.flags.get(code="PREGNANCY").decided_by == people["radiologist"]
