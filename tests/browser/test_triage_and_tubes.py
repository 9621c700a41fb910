"""Staff follow-up in headless Chromium: a capping trial started and closed as failed,
and a phone check-in that lands on the triage list."""

import pytest
from playwright.sync_api import expect

from nephro.tubes.models import CappingTrial
from tests.browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser


def test_a_capping_trial_is_started_and_closed_as_failed(page, people, make_exam):
    exam = make_exam("scheduled")
    sign_in(page, "nina")
    page.goto("/tubes/")
    page.get_by_role("link", name="Capping trials").click()
    page.locator("tr", has_text=exam.patient.mrn).get_by_role("link", name="Start trial").click()
    page.get_by_label("Planned end").fill("2099-01-10")
    page.get_by_role("button", name="Start trial").click()
    expect(page.get_by_text("Capping trial started")).to_be_visible()
    shot(page, "tubes-01-trial-under-way")
    page.get_by_role("link", name="Close trial").click()
    page.get_by_label("Failed").check()
    page.get_by_label("Leak").check()
    page.get_by_label("Rising creatinine").check()
    page.get_by_label("Notes").fill("Leak at the site on day 2; creatinine 1.9")
    page.get_by_role("button", name="Close trial").click()
    expect(page.get_by_text("Capping trial closed.")).to_be_visible()
    closed = page.locator("tr", has_text=exam.patient.mrn).last
    assert "Leak, Rising creatinine" in closed.inner_text()
    shot(page, "tubes-02-trial-failed")
    trial = CappingTrial.objects.get()
    assert trial.outcome == "failed" and trial.failure_reasons == ["leak", "creatinine"]
    exam.tube.refresh_from_db()
    assert exam.tube.status == "in_place"


def test_a_phone_check_in_reaches_the_triage_list(page, people, make_exam):
    exam = make_exam("completed")
    sign_in(page, "nina")
    page.goto(f"/exams/{exam.pk}/")
    page.get_by_role("link", name="Phone check-in").click()
    page.get_by_label("The tube has moved or come out").check()
    page.get_by_role("button", name="Save check-in").click()
    expect(page.get_by_text("Tell the patient: Call the care team now.")).to_be_visible()
    page.goto("/followup/")
    assert "urgent" in page.locator("table.list tbody tr").first.inner_text().lower()
    shot(page, "triage-01-phone-check-in")
