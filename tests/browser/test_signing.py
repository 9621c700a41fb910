"""Signing signs the text on the screen, after a confirmation (issue 15, item 2)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from nephro.audit.actor import Actor
from nephro.exams.lifecycle import State
from nephro.reports import services
from nephro.reports.models import Report
from tests.browser.conftest import shot, sign_in
from tests.conftest import findings_form

pytestmark = pytest.mark.browser


def test_sign_final_without_saving_signs_the_edited_text(page, make_exam, people):
    exam = make_exam(State.COMPLETED)
    services.save_findings(Actor(user=people["radiologist"]), exam.pk, findings_form())
    sign_in(page, "rita")
    page.goto(reverse("reports:edit", args=[exam.pk]))
    edited = "Free drainage to the bladder. The tube can come out today."
    page.get_by_label("Impression").fill(edited)
    # No "Save text": straight to signing.
    page.get_by_role("button", name="Sign final").click()
    page.wait_for_load_state()
    assert "Sign this report as final?" in page.content()
    assert edited in page.locator("article.report").inner_text()
    assert Report.objects.get(exam=exam).status == "draft"
    shot(page, "signing-confirm-final")
    page.get_by_role("button", name="Confirm: sign final").click()
    page.wait_for_load_state()
    report = Report.objects.get(exam=exam)
    assert report.status == "final" and report.impression == edited
    assert edited in page.content()
    shot(page, "signing-final-signed")


def test_contradictory_findings_are_refused_with_a_clear_message(page, make_exam):
    exam = make_exam(State.COMPLETED)
    sign_in(page, "rita")
    page.goto(reverse("reports:findings", args=[exam.pk]))
    page.get_by_label("Tube position").select_option("pelvis")
    page.get_by_label("Tube patency").select_option("patent")
    page.get_by_label("Hydronephrosis (SFU grade)").select_option("1")
    page.get_by_label("Passage at the UPJ").select_option("none")
    page.get_by_label("Passage through the ureter").select_option("not_seen")
    page.get_by_label("Contrast into the bladder").select_option("immediate")
    page.get_by_label("Obstruction level").select_option("upj")
    page.get_by_role("button", name="Save findings and draft the report").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert").first.inner_text()
    assert "no passage at the UPJ or through the ureter, yet contrast in the bladder" in alert
    assert not Report.objects.filter(exam=exam).exists()
    shot(page, "signing-contradictory-findings")
