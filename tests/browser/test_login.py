import pytest

from tests.browser.conftest import shot, sign_in

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
