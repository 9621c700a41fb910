"""The urgent follow-up loop in Chromium: a new urgent alert appears on an open triage
page without a reload; "could not reach the patient" keeps it open and escalates it."""

import pytest
from playwright.sync_api import expect

from nephro.audit.actor import Actor
from nephro.followup import services
from nephro.followup.models import Alert
from tests.browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser


def test_a_new_urgent_alert_appears_and_not_reached_escalates_it(
    page, people, make_exam, settings, mailoutbox
):
    settings.NEPHRO_TRIAGE_REFRESH_SECONDS = 1
    people["radiologist"].email = "rita@example.org"
    people["radiologist"].save()
    services.set_duty(Actor(user=people["radiologist"]), True)
    exam = make_exam("completed")
    sign_in(page, "nina")
    page.goto("/followup/")
    open_alerts = page.locator("#open-alerts")
    expect(open_alerts.get_by_text("No open alerts.")).to_be_visible()
    services.record_checkin(Actor(user=people["patient"]), exam.pk, symptoms=["no_drainage"])
    row = open_alerts.locator("tr", has_text=exam.patient.mrn)
    expect(row).to_be_visible()  # fetched by the page itself: no reload
    shot(page, "escalation-01-new-alert-without-reload")
    row.get_by_role("link", name="Acknowledge").click()
    page.get_by_label("Action taken").select_option("no_answer")
    page.get_by_label("Note").fill("Rang twice, no answer")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("the alert stays open and has gone to the radiologist")).to_be_visible()
    row = page.locator("#open-alerts tr", has_text=exam.patient.mrn)
    expect(row).to_contain_text("Not reached: 1 try")
    expect(row).to_contain_text("Escalated to rita")
    shot(page, "escalation-02-not-reached-stays-open")
    alert = Alert.objects.get(exam=exam)
    assert alert.is_open and alert.escalated_at is not None
    assert mailoutbox and mailoutbox[-1].to == ["rita@example.org"]
