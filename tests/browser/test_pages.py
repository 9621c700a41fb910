"""Pages in headless Chromium: staff pages on a phone (375 px), the error pages, print
without forms, and htmx under the Content-Security-Policy."""

import pytest
from playwright.sync_api import expect

from nephro.audit.actor import Actor
from nephro.followup import services as followup
from tests.browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px phone"


def test_triage_and_the_staff_pages_fit_a_phone(phone, people, make_exam):
    for _ in range(2):
        exam = make_exam("completed")
        followup.record_checkin(
            Actor(user=people["nurse"]), exam.pk, symptoms=["fever"], notes="Shivering since noon"
        )
    sign_in(phone, "nina")
    for name, url in [
        ("home", "/"),
        ("triage", "/followup/"),
        ("worklist", "/exams/"),
        ("exam", f"/exams/{exam.pk}/"),
        ("patients", "/patients/"),
        ("tubes", "/tubes/"),
    ]:
        phone.goto(url)
        _fits(phone)
        shot(phone, f"phone-375-{name}")
    phone.goto("/followup/")
    ack = phone.get_by_role("link", name=f"Acknowledge alert for {exam.patient}")
    expect(ack).to_be_visible()
    assert ack.bounding_box()["height"] >= 44  # big enough to tap


def test_the_error_pages_are_styled_with_a_way_back(page, people):
    page.goto("/no/such/page/")
    expect(page.get_by_role("heading", name="We could not find that page")).to_be_visible()
    shot(page, "error-404")
    sign_in(page, "nina")
    page.goto("/accounts/")
    expect(page.get_by_role("heading", name="This page is not open to your role")).to_be_visible()
    shot(page, "error-403")
    page.get_by_role("link", name="Go to your home page").click()
    expect(page.get_by_role("heading", name="To screen")).to_be_visible()


def test_print_leaves_out_forms_and_navigation(page, people, make_exam):
    exam = make_exam("arrived")
    sign_in(page, "tom")
    page.goto(f"/exams/{exam.pk}/")
    assert page.locator("form").first.is_visible()
    page.emulate_media(media="print")
    assert not page.locator("nav").first.is_visible()
    assert page.locator("form:visible, button:visible").count() == 0
    expect(page.get_by_role("heading", name="Pre-procedure checklist")).to_be_visible()
    shot(page, "print-exam")


def test_htmx_works_under_the_csp_without_violations(page, people, make_exam):
    exam = make_exam("arrived")
    problems = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security" in m.text else None)
    sign_in(page, "tom")
    page.goto(f"/exams/{exam.pk}/")
    page.evaluate(
        "document.addEventListener('securitypolicyviolation',"
        " e => console.log('Content Security violation ' + e.violatedDirective))"
    )
    page.get_by_role("button", name="Mark done").first.click()
    expect(page.locator("#checklist .tick")).to_have_count(1)
    # The checklist was swapped in place by htmx, not by a page load.
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert not problems, problems
