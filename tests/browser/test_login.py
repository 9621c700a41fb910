import pytest

from tests.browser.conftest import shot, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_it_signs_in_and_shows_the_role_dashboard(page, people):
    sign_in(page, "rita")
    assert page.get_by_role("heading", name="Holds needing a decision").is_visible()
    assert page.locator(".role").inner_text() == "Radiologist"
    shot(page, "login-radiologist-dashboard")


def test_it_refuses_a_wrong_password_with_a_clear_message(page, people):
    sign_in(page, "rita", "wrong-password")
    assert page.get_by_role("alert").first.is_visible()
    assert "correct username and password" in page.content()


def test_it_signs_in_with_the_keyboard_alone(page, people):
    page.goto("/login/")
    # The username field has focus on arrival; Tab moves to the password.
    assert page.evaluate("document.activeElement.name") == "username"
    page.keyboard.type("nina")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: not url.endswith("/login/"))
    assert page.get_by_role("heading", name="To screen").is_visible()


def test_it_fits_a_tablet_screen(browser, live_server, people, make_exam):
    make_exam("scheduled")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 820, "height": 1180})
    page = context.new_page()
    sign_in(page, "nina")
    # No horizontal scrolling: the layout reflows to one column.
    assert page.evaluate("document.documentElement.scrollWidth") <= 820
    shot(page, "tablet-nurse-dashboard")
    context.close()
