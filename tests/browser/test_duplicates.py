"""Back + submit again in a real browser creates nothing new: the order form and the
phone check-in each keep one record, and the second submit leads to the first."""

import pytest
from playwright.sync_api import expect

from nephro.exams.models import Exam, Order
from nephro.followup.models import Alert, CheckIn
from nephro.lib.once import MESSAGE
from nephro.reports.models import Addendum
from tests.browser.conftest import shot, sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser


def test_back_and_submit_again_places_one_order(page, people):
    patient = make_patient(registered_by=people["referrer"])
    sign_in(page, "alice")
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("link", name="Order nephrostogram").click()
    page.get_by_label("Side").select_option("both")
    page.get_by_label("Indication").select_option("routine")
    page.get_by_label("Clinical question").fill("Does the kidney drain?")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text("Order placed")).to_be_visible()
    first_url = page.url
    page.go_back()
    expect(page.get_by_role("button", name="Place order")).to_be_visible()
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text(MESSAGE)).to_be_visible()
    shot(page, "duplicates-01-order-submitted-twice")
    assert page.url == first_url
    assert Order.objects.count() == 1 and Exam.objects.count() == 2


def test_back_and_submit_again_keeps_one_urgent_alert(page, people, make_exam):
    exam = make_exam("completed")
    sign_in(page, "nina")
    page.goto(f"/followup/exams/{exam.pk}/check-in/")
    page.get_by_label("Fever of 38.0 °C (100.4 °F) or more, or chills").check()
    page.get_by_role("button", name="Save check-in").click()
    expect(page.get_by_text("Tell the patient: Call the care team now.")).to_be_visible()
    page.go_back()
    expect(page.get_by_role("button", name="Save check-in")).to_be_visible()
    page.get_by_label("Fever of 38.0 °C (100.4 °F) or more, or chills").check()
    page.get_by_role("button", name="Save check-in").click()
    expect(page.get_by_text(MESSAGE)).to_be_visible()
    shot(page, "duplicates-02-check-in-submitted-twice")
    assert CheckIn.objects.filter(exam=exam).count() == 1
    assert Alert.objects.filter(exam=exam).count() == 1


def test_back_and_submit_again_adds_one_addendum(page, people, make_exam):
    exam = make_exam("reported")
    sign_in(page, "rita")
    page.goto(f"/exams/{exam.pk}/report/")
    page.get_by_label("Text").fill("Small fragment seen on review.")
    page.get_by_role("button", name="Add addendum").click()
    expect(page.get_by_text("Addendum added.")).to_be_visible()
    first_url = page.url
    page.go_back()
    expect(page.get_by_role("button", name="Add addendum")).to_be_visible()
    page.get_by_label("Text").fill("Small fragment seen on review.")
    page.get_by_role("button", name="Add addendum").click()
    expect(page.get_by_text(MESSAGE)).to_be_visible()
    shot(page, "duplicates-03-addendum-submitted-twice")
    assert page.url == first_url
    assert Addendum.objects.filter(report__exam=exam).count() == 1
