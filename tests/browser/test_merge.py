"""An administrator merges two records of one person on the merge page, then undoes it."""

from datetime import date

import pytest
from playwright.sync_api import expect

from nephro.patients.models import Patient, PatientMerge
from tests.browser.conftest import shot, sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser


def test_an_administrator_merges_and_undoes_the_merge(page, people, make_exam):
    kept = make_patient(mrn="K100", born=date(1970, 3, 4))
    merged = make_patient(mrn="M200", born=date(1970, 3, 4))
    exam = make_exam(patient=merged)
    sign_in(page, "adam")
    page.goto("/patients/merge/")
    page.get_by_label("Keep this record (MRN)").fill("K100")
    page.get_by_label("Merge this record into it (MRN)").fill("M200")
    page.get_by_label("Reason").fill("Registered twice")
    page.get_by_role("button", name="Check the records").click()
    page.get_by_label("I have checked these are the same person: merge them").check()
    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page.get_by_text("MRN M200 merged into K100.")).to_be_visible()
    exam.refresh_from_db()
    assert exam.patient == kept
    shot(page, "merge-01-merged")
    page.get_by_role("button", name="Undo merge").click()
    expect(page.get_by_text("MRN M200 is a record of its own again.")).to_be_visible()
    expect(page.get_by_text("Undone")).to_be_visible()
    shot(page, "merge-02-undone")
    exam.refresh_from_db()
    assert exam.patient == merged and Patient.objects.get(pk=merged.pk).merged_into is None
    assert PatientMerge.objects.get().reversed_by == people["admin"]
