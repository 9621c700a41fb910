"""The radiologist's review of dose from devices, in Chromium: accepting a device's
values corrects the dose, and its dose flags stay until she clears them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nephro.audit.actor import Actor
from nephro.dicom import dose
from nephro.exams.lifecycle import State
from nephro.exams.models import Procedure
from tests.browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser


def test_a_radiologist_accepts_a_device_value_and_the_flag_stays_until_cleared(page, make_exam):
    exam = make_exam(State.COMPLETED)
    Procedure.objects.update_or_create(
        exam=exam, defaults={"ka_r_mgy": Decimal("2000"), "dose_source": "manual"}
    )
    dose.apply_device_dose(
        Actor.device("FLUORO1", "10.1.2.3"),
        exam.pk,
        source="rdsr",
        reference="1.2.3.4",
        reported=dose.Reported(ka_r_mgy=Decimal("6000")),
        calling_ae="FLUORO1",
    )
    sign_in(page, "rita")
    page.goto(f"/exams/{exam.pk}/")
    page.get_by_role("link", name="Review: accept a device's values or clear a dose flag").click()
    page.wait_for_load_state()
    flags = page.locator("ul.flags li")
    assert flags.count() == 2  # 5 Gy follow-up, and the device disagrees with the record

    page.get_by_label("Why are these values right?").fill("The unit's report is right.")
    page.get_by_role("button", name="Accept these values").click()
    page.wait_for_load_state()
    assert "now the procedure's dose" in page.content()
    assert "6000.00 mGy" in page.locator("dl.facts").inner_text()
    assert flags.count() == 2  # accepting a value clears no flag
    shot(page, "dicom-dose-accepted")

    mismatch = flags.filter(has_text="disagrees")
    mismatch.get_by_label("Why is this flag dealt with?").fill(
        "Checked: the typed value was a slip."
    )
    mismatch.get_by_role("button", name="Clear this flag").click()
    page.wait_for_load_state()
    assert "The dose flag is cleared" in page.content()
    assert flags.count() == 1 and "substantial radiation dose level" in flags.first.inner_text()
    assert Procedure.objects.get(exam=exam).ka_r_mgy == Decimal("6000.00")
    assert {alert.code for alert in dose.active_alerts(exam)} == {"DOSE_SRDL"}
    shot(page, "dicom-dose-flag-cleared")
